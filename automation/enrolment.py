"""Enrolment: creating runs for contacts, respecting each workflow's re-enrolment rule."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from .dispatch import enqueue_runs
from .models import ACTIVE_RUN_STATUSES, Contact, Deployment, DeploymentStatus, Event, Run

# settings.reenrollment: once ever, again after the last run ended, or every time.
REENROLLMENT_CHOICES = ("never", "after_completion", "always")


@dataclass(frozen=True)
class Enrolment:
    deployment: Deployment
    contact: Contact
    trigger_node: str
    event: Event | None = None


@dataclass(frozen=True)
class NewRun:
    run: Run
    deployment: Deployment


_held: ContextVar[list[NewRun] | None] = ContextVar("held_new_runs", default=None)


@contextmanager
def holding_new_runs() -> Iterator[list[NewRun]]:
    """Runs enrolled inside this block are not queued: they are gathered in the
    list yielded, for the caller to start itself or queue (the event drain
    starts them in its own transaction, automation.engine.start_enrolled).
    The list is only good if the block's transaction commits."""
    held: list[NewRun] = []
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


def enrol(enrolments: Iterable[Enrolment]) -> list[Run]:
    """Create the runs these enrolments allow and queue them after commit
    (or hand them to the `holding_new_runs` block around the call).

    Callers hold the contacts' row locks (or are the only writer), so two
    events for one contact cannot both pass a "never" check.
    """
    wanted = [e for e in enrolments if e.deployment.status == DeploymentStatus.ACTIVE]
    if not wanted:
        return []
    live = _still_active({e.deployment.pk for e in wanted})
    wanted = [e for e in wanted if e.deployment.pk in live]
    if not wanted:
        return []
    pairs = {(e.deployment.pk, e.contact.pk) for e in wanted}
    history = _existing_runs(pairs)
    now = timezone.now()
    runs: list[Run] = []
    deployments: list[Deployment] = []
    for enrolment in wanted:
        key = (enrolment.deployment.pk, enrolment.contact.pk)
        rule = enrolment.deployment.settings.get("reenrollment") or "never"
        statuses = history.setdefault(key, [])
        if rule == "never" and statuses:
            continue
        if rule == "after_completion" and any(s in ACTIVE_RUN_STATUSES for s in statuses):
            continue
        statuses.append(Run._meta.get_field("status").default)
        runs.append(
            Run(
                workspace_id=enrolment.deployment.workspace_id,
                workflow_id=enrolment.deployment.pk,
                version_id=enrolment.deployment.version_id,
                contact=enrolment.contact,
                trigger_event=enrolment.event,
                events_after=(
                    enrolment.event.seq if enrolment.event else enrolment.contact.event_seq
                ),
                trigger_node=enrolment.trigger_node,
                current_node=enrolment.trigger_node,
                queued_at=now,
            )
        )
        deployments.append(enrolment.deployment)
    Run.objects.bulk_create(runs)
    held = _held.get()
    if held is None:
        enqueue_runs(run.pk for run in runs)
    else:
        held.extend(map(NewRun, runs, deployments))
    return runs


def _still_active(workflow_ids: set) -> set:
    """Of these workflows, those still active, their rows share-locked until the
    caller's transaction ends: a pause or an archive committed since the caller
    read its trigger bindings wins, and one coming (it locks the workflow's row
    first) waits for these runs to commit, so its clean-up finds them and no
    run is left in flight on an archived workflow."""
    if connection.vendor == "postgresql":  # SQLite: one writer at a time already
        workflows = Run._meta.get_field("workflow").related_model
        locked = workflows.objects.filter(pk__in=workflow_ids).order_by("pk").values("pk")
        sql, params = locked.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} FOR SHARE", params)
    return set(
        Deployment.objects.filter(pk__in=workflow_ids, status=DeploymentStatus.ACTIVE).values_list(
            "pk", flat=True
        )
    )


def _existing_runs(pairs: set[tuple]) -> dict[tuple, list[str]]:
    if not pairs:
        return {}
    workflow_ids = {w for w, _ in pairs}
    contact_ids = {c for _, c in pairs}
    history: dict[tuple, list[str]] = {}
    rows = Run.objects.filter(
        workflow_id__in=workflow_ids, contact_id__in=contact_ids, is_preview=False
    ).values_list("workflow_id", "contact_id", "status")
    for workflow_id, contact_id, status in rows:
        if (workflow_id, contact_id) in pairs:
            history.setdefault((workflow_id, contact_id), []).append(status)
    return history


def enrol_in_workflow(workflow_id, contact: Contact, *, event: Event | None = None) -> Run | None:
    """action.enroll: start `contact` in another workflow at its first trigger."""
    deployment = (
        Deployment.objects.filter(pk=workflow_id, workspace_id=contact.workspace_id)
        .prefetch_related("triggers")
        .first()
    )
    if deployment is None or deployment.status != DeploymentStatus.ACTIVE:
        return None
    trigger = deployment.triggers.order_by("node_id").first()
    if trigger is None:
        return None
    runs = enrol([Enrolment(deployment, contact, trigger.node_id, event)])
    return runs[0] if runs else None
