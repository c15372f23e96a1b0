"""Changes of state for workflows: validate, then change, then tell the runtime.

Views, admin actions and commands call these; none of them changes a
workflow's status or versions any other way.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automation import deployments

from .models import Workflow, WorkflowStatus, WorkflowVersion
from .validation import GraphIssue, structural_issues, validate_graph


class WorkflowError(Exception):
    """A request the workflow's state or graph does not allow. `issues` say why."""

    def __init__(self, message: str, *, field: str = "", issues: list[GraphIssue] | None = None):
        super().__init__(message)
        self.field = field
        self.issues = issues or []


# Which status changes PUT /status accepts, and from where. Publishing is the
# only way out of draft: a draft has no version to activate.
STATUS_TRANSITIONS = {
    WorkflowStatus.ACTIVE: {WorkflowStatus.PAUSED, WorkflowStatus.ACTIVE},
    WorkflowStatus.PAUSED: {WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED},
    # Archiving again is allowed: it cancels any run still left in flight.
    WorkflowStatus.ARCHIVED: {
        WorkflowStatus.ACTIVE,
        WorkflowStatus.PAUSED,
        WorkflowStatus.DRAFT,
        WorkflowStatus.ARCHIVED,
    },
}


def check_graph_size(graph: Any) -> None:
    size = len(json.dumps(graph, default=str))
    if size > settings.GRAPH_MAX_BYTES:
        raise WorkflowError(
            f"the graph is {size} bytes; the limit is {settings.GRAPH_MAX_BYTES} (GRAPH_MAX_BYTES)",
            field="draft",
        )


class DraftConflict(Exception):
    """The draft changed since the revision the caller edited: nothing was saved."""

    def __init__(self, revision: int, draft: Any):
        super().__init__(
            f"the draft was changed elsewhere (revision {revision}); reload it or overwrite"
        )
        self.revision = revision
        self.draft = draft


def save_draft(
    workflow: Workflow, graph: Any, *, expected_revisions: Collection[int] | None = None
) -> list[GraphIssue]:
    """Store the draft as it is (work in progress may be incomplete) and return its issues.

    A graph whose document is broken (unknown node types, edges to nowhere,
    duplicate ids, too many nodes) is refused and nothing is stored.

    Every save moves `draft_revision` on by one; `workflow` comes back with the
    stored draft and its new revision. With `expected_revisions` (the
    If-Match of the request) the save happens only if the stored revision is
    one of them, else DraftConflict: of two saves from the same revision,
    exactly one wins.
    """
    check_graph_size(graph)
    issues = validate_graph(graph, workspace_id=workflow.workspace_id)
    broken = structural_issues(issues)
    if broken:
        raise WorkflowError("the graph cannot be saved", field="draft", issues=broken)
    with transaction.atomic():
        rows = Workflow.objects.filter(pk=workflow.pk)
        current = rows.select_for_update().values_list("draft_revision", flat=True).get()
        if expected_revisions is not None and current not in expected_revisions:
            raise DraftConflict(current, rows.values_list("draft", flat=True).get())
        now = timezone.now()
        # Compare-and-set on the revision read under the lock: even where the
        # database has no row locks (SQLite), a concurrent save cannot slip in.
        saved = rows.filter(draft_revision=current).update(
            draft=graph, draft_revision=current + 1, updated_at=now
        )
        if not saved:
            latest = rows.values("draft_revision", "draft").get()
            raise DraftConflict(latest["draft_revision"], latest["draft"])
    workflow.draft = graph
    workflow.draft_revision = current + 1
    workflow.updated_at = now
    return issues


def create_workflow(workspace, *, name: str, graph: Any = None, user=None, **extra) -> Workflow:
    workflow = Workflow(workspace=workspace, name=name, created_by=user, **extra)
    if graph is not None:
        check_graph_size(graph)
        broken = structural_issues(validate_graph(graph))
        if broken:
            raise WorkflowError("the graph cannot be saved", field="draft", issues=broken)
        workflow.draft = graph
    workflow.save()
    return workflow


@dataclass(frozen=True)
class PublishResult:
    version: WorkflowVersion
    migrated_runs: int


@transaction.atomic
def publish(workflow: Workflow, *, user=None, note: str = "", migrate_runs: bool = False):
    """Validate the draft, freeze it as version N+1, activate it."""
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if workflow.status == WorkflowStatus.ARCHIVED:
        raise WorkflowError("an archived workflow cannot be published", field="status")
    check_graph_size(workflow.draft)
    issues = validate_graph(workflow.draft, workspace_id=workflow.workspace_id)
    if issues:
        raise WorkflowError("the draft has problems; fix them before publishing", issues=issues)
    latest = workflow.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = WorkflowVersion.objects.create(
        workflow=workflow,
        number=latest + 1,
        graph=workflow.draft,
        note=note,
        published_by=user if user and user.is_authenticated else None,
    )
    workflow.status = WorkflowStatus.ACTIVE
    workflow.save(update_fields=["status", "updated_at"])
    deployments.deploy(
        workflow_id=workflow.pk,
        workspace_id=workflow.workspace_id,
        version_id=version.pk,
        graph=version.graph,
        status=WorkflowStatus.ACTIVE,
    )
    migrated = (
        deployments.migrate_waiting_runs(workflow.pk, to_version_id=version.pk, graph=version.graph)
        if migrate_runs
        else 0
    )
    return PublishResult(version=version, migrated_runs=migrated)


@transaction.atomic
def change_status(workflow: Workflow, status: str) -> Workflow:
    """active ⇄ paused, anything → archived. Archived is final."""
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if status not in STATUS_TRANSITIONS:
        raise WorkflowError(
            f"status must be one of {', '.join(STATUS_TRANSITIONS)}; publish to activate a draft",
            field="status",
        )
    if workflow.status not in STATUS_TRANSITIONS[status]:
        hint = " (publish it first)" if workflow.status == WorkflowStatus.DRAFT else ""
        raise WorkflowError(
            f"a {workflow.status} workflow cannot become {status}{hint}", field="status"
        )
    if workflow.status == status and status != WorkflowStatus.ARCHIVED:
        return workflow
    workflow.status = status
    workflow.save(update_fields=["status", "updated_at"])
    if workflow.versions.exists():
        deployments.set_deployment_status(workflow.pk, status)
    return workflow


@transaction.atomic
def restore_version(workflow: Workflow, number: int) -> Workflow:
    """Copy a published version back into the draft (the version itself stays as it was)."""
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    version = workflow.versions.filter(number=number).first()
    if version is None:
        raise WorkflowError(f"version {number} does not exist", field="number")
    workflow.draft = version.graph
    workflow.draft_revision += 1  # a tab still editing the old draft must not overwrite this
    workflow.save(update_fields=["draft", "draft_revision", "updated_at"])
    return workflow


def delete_workflow(workflow: Workflow) -> None:
    if workflow.status in (WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED):
        raise WorkflowError(
            f"a {workflow.status} workflow cannot be deleted; archive it first", field="status"
        )
    workflow.delete()


def update_workflow(
    workflow: Workflow,
    *,
    name: str | None = None,
    description: str | None = None,
    priority: str | None = None,
) -> Workflow:
    """Rename, re-describe or re-prioritise a workflow. Its graph changes through
    save_draft only. A new priority applies to every run queued from then on."""
    changed = []
    if priority is not None:
        workflow.priority = priority
        changed.append("priority")
    if name is not None:
        workflow.name = name
        changed.append("name")
    if description is not None:
        workflow.description = description
        changed.append("description")
    if changed:
        workflow.save(update_fields=[*changed, "updated_at"])
    return workflow


# ---------------------------------------------------------------- preview
def start_preview(workflow: Workflow, *, request: dict[str, Any]):
    """Preview the CURRENT draft (unpublished edits included); refused while it has problems.

    `request` is PreviewRequestSerializer's validated data.
    """
    from automation import preview
    from automation.models import Contact

    issues = [
        issue
        for issue in validate_graph(workflow.draft, workspace_id=workflow.workspace_id)
        if issue.severity == "error"
    ]
    if issues:
        raise WorkflowError("the draft has problems; fix them before previewing", issues=issues)
    triggers = [
        node
        for node in workflow.draft.get("nodes", [])
        if str(node.get("type", "")).startswith("trigger.")
    ]
    wanted = request.get("trigger") or triggers[0]["id"]
    trigger = next((node for node in triggers if node["id"] == wanted), None)
    if trigger is None:
        raise WorkflowError(f"there is no trigger {wanted!r} in the draft", field="trigger")
    sample = dict(request.get("contact") or {})
    contact = None
    real = Contact.objects.filter(workspace_id=workflow.workspace_id, is_preview=False)
    if sample.get("id") is not None:
        contact = real.filter(pk=sample["id"]).first()
        if contact is None:
            raise WorkflowError("no such contact in this workspace", field="contact.id")
    elif sample.get("email"):
        # An existing contact's email: preview with (a copy of) that contact.
        contact = real.filter(email__iexact=sample["email"]).first()
    event = dict(request.get("event") or {})
    trigger_config = (trigger.get("data") or {}).get("config") or {}
    event.setdefault("type", trigger_config.get("event") or "")
    return preview.start_preview(
        workspace_id=workflow.workspace_id,
        workflow_id=workflow.pk,
        graph=workflow.draft,
        trigger_node=trigger["id"],
        contact=contact,
        sample=sample,
        event=event,
        mode=request.get("mode", "run"),
        choices=request.get("choices") or {},
    )
