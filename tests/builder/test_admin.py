"""The builder's admin: every page renders, and its actions go through builder.services.

Invariants: a workflow's status and versions change only through publish /
change_status (the actions report each outcome); a published version can
never be changed; an API key's hash is never shown and no key is added here.
"""

from __future__ import annotations

import copy
import json

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from automation.models import Contact, Run, RunStatus
from builder import services
from builder.models import (
    ApiKey,
    Membership,
    Role,
    Workflow,
    WorkflowStatus,
    WorkflowVersion,
    Workspace,
)
from tests.builder.graphs import tag_graph

VALID_GRAPH = tag_graph()

# Saves as work in progress (the document is sound) but cannot be published: no trigger.
UNPUBLISHABLE_GRAPH = {
    "nodes": [VALID_GRAPH["nodes"][1]],
    "edges": [],
    "settings": {},
}


def valid_graph() -> dict:
    return copy.deepcopy(VALID_GRAPH)


# ---------------------------------------------------------------- helpers


@pytest.fixture
def workspace(db) -> Workspace:
    return Workspace.objects.create(name="Acme", slug="acme")


def make_workflow(workspace: Workspace, name: str = "Onboarding", graph=None) -> Workflow:
    return Workflow.objects.create(
        workspace=workspace, name=name, draft=graph if graph is not None else valid_graph()
    )


def make_run(workflow: Workflow, email: str, status: str = RunStatus.WAITING) -> Run:
    contact, _ = Contact.objects.get_or_create(workspace=workflow.workspace, email=email)
    return Run.objects.create(
        workspace=workflow.workspace,
        workflow=workflow,
        version=workflow.latest_version,
        contact=contact,
        trigger_node="start",
        status=status,
        current_node="tag",
    )


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def run_action(client, model, action: str, objects) -> list:
    """POST an admin action on `objects`; return the messages it left."""
    response = client.post(
        changelist(model),
        {"action": action, "_selected_action": [str(obj.pk) for obj in objects]},
        follow=True,
    )
    assert response.status_code == 200
    return list(get_messages(response.wsgi_request))


def admin_form_data(response) -> dict:
    """The data a browser would POST back from an admin change page, inlines included."""
    data = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[form.add_prefix(name)] = form.fields[name].prepare_value(value)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for subform in formset.forms:
            for name in subform.fields:
                value = subform[name].value()
                if value is not None:
                    data[subform.add_prefix(name)] = value
    return data


# ---------------------------------------------------------------- pages render


@pytest.fixture
def populated(workspace, admin_user):
    """One of everything the builder's admin shows."""
    Membership.objects.create(workspace=workspace, user=admin_user, role=Role.ADMIN)
    key, _ = ApiKey.objects.create_key(workspace, "signup service", role=Role.EDITOR)
    workflow = make_workflow(workspace)
    version = services.publish(workflow).version
    make_run(workflow, "ada@example.com")
    draft = make_workflow(workspace, "Half-built", UNPUBLISHABLE_GRAPH)
    return {
        "workspace": workspace,
        "membership": Membership.objects.get(),
        "key": key,
        "workflow": workflow,
        "draft": draft,
        "version": version,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Workspace, Membership, ApiKey, Workflow, WorkflowVersion])
def test_changelist_renders(admin_client, populated, model):
    response = admin_client.get(changelist(model))
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["workspace", "membership", "key", "workflow", "draft", "version"])
def test_change_page_renders(admin_client, populated, name):
    response = admin_client.get(change_url(populated[name]))
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Workspace, Membership, Workflow])
def test_add_page_renders(admin_client, model):
    assert (
        admin_client.get(reverse(f"admin:builder_{model._meta.model_name}_add")).status_code == 200
    )


@pytest.mark.django_db
def test_workflow_changelist_shows_latest_version_and_active_runs(admin_client, workspace):
    workflow = make_workflow(workspace)
    services.publish(workflow)
    services.publish(workflow)
    make_run(workflow, "a@example.com", RunStatus.WAITING)
    make_run(workflow, "b@example.com", RunStatus.RUNNING)
    make_run(workflow, "c@example.com", RunStatus.COMPLETED)

    response = admin_client.get(changelist(Workflow))

    row = response.context["cl"].result_list[0]
    assert (row.latest_number, row.active_run_total) == (2, 2)


@pytest.mark.django_db
def test_workflow_changelist_queries_do_not_grow_with_rows(admin_client, workspace):
    # The version and run-count columns are annotations, not a query per row.
    def queries_for_changelist() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(changelist(Workflow)).status_code == 200
        return len(captured)

    first = make_workflow(workspace, "First")
    services.publish(first)
    make_run(first, "a@example.com")
    one_row = queries_for_changelist()
    for index in range(4):
        workflow = make_workflow(workspace, f"More {index}")
        services.publish(workflow)
        make_run(workflow, f"m{index}@example.com")

    assert queries_for_changelist() == one_row


# ---------------------------------------------------------------- workflow actions


@pytest.mark.django_db
def test_publish_action_creates_version_1_and_activates(admin_client, workspace, admin_user):
    workflow = make_workflow(workspace)

    messages = run_action(admin_client, Workflow, "publish_selected", [workflow])

    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.ACTIVE
    version = workflow.versions.get()
    assert version.number == 1
    assert version.graph == VALID_GRAPH
    assert version.published_by == admin_user
    assert workflow.deployment.version == version
    assert [m.level for m in messages] == [SUCCESS]
    assert "version 1" in messages[0].message


@pytest.mark.django_db
def test_publish_action_on_an_invalid_draft_reports_the_issues_and_creates_nothing(
    admin_client, workspace
):
    workflow = make_workflow(workspace, "Half-built", UNPUBLISHABLE_GRAPH)

    messages = run_action(admin_client, Workflow, "publish_selected", [workflow])

    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.DRAFT
    assert not WorkflowVersion.objects.exists()
    assert [m.level for m in messages] == [ERROR]
    assert "Could not publish “Half-built”" in messages[0].message
    assert "trigger" in messages[0].message  # the first issue is named


@pytest.mark.django_db
def test_publish_action_reports_each_workflow(admin_client, workspace):
    good = make_workflow(workspace, "Good")
    bad = make_workflow(workspace, "Bad", UNPUBLISHABLE_GRAPH)

    messages = run_action(admin_client, Workflow, "publish_selected", [good, bad])

    assert sorted(m.level for m in messages) == sorted([SUCCESS, ERROR])
    assert good.versions.count() == 1
    assert bad.versions.count() == 0


@pytest.mark.django_db
def test_pause_resume_archive_actions_change_status(admin_client, workspace):
    workflow = make_workflow(workspace)
    services.publish(workflow)

    for action, expected in [
        ("pause_selected", WorkflowStatus.PAUSED),
        ("resume_selected", WorkflowStatus.ACTIVE),
        ("archive_selected", WorkflowStatus.ARCHIVED),
    ]:
        messages = run_action(admin_client, Workflow, action, [workflow])
        workflow.refresh_from_db()
        assert workflow.status == expected, action
        assert [m.level for m in messages] == [SUCCESS], action
        assert workflow.deployment.status == expected


@pytest.mark.django_db
def test_resume_action_on_a_draft_fails_with_a_message(admin_client, workspace):
    workflow = make_workflow(workspace)

    messages = run_action(admin_client, Workflow, "resume_selected", [workflow])

    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.DRAFT
    assert [m.level for m in messages] == [ERROR]
    assert "publish it first" in messages[0].message


# ---------------------------------------------------------------- editing a workflow


@pytest.mark.django_db
def test_editing_the_draft_saves_it(admin_client, workspace):
    workflow = make_workflow(workspace)
    page = admin_client.get(change_url(workflow))
    data = admin_form_data(page)
    edited = valid_graph()
    edited["nodes"][1]["data"]["config"]["add"] = ["edited"]
    data["draft"] = json.dumps(edited)
    data["name"] = "Renamed"

    response = admin_client.post(change_url(workflow), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    workflow.refresh_from_db()
    assert workflow.name == "Renamed"
    assert workflow.draft == edited
    # An editor tab still on the old revision is told instead of overwriting this edit.
    assert workflow.draft_revision == 2


@pytest.mark.django_db
def test_a_broken_draft_is_refused(admin_client, workspace):
    workflow = make_workflow(workspace)
    data = admin_form_data(admin_client.get(change_url(workflow)))
    broken = valid_graph()
    broken["nodes"][1]["type"] = "action.nonexistent"
    data["draft"] = json.dumps(broken)

    response = admin_client.post(change_url(workflow), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["draft"]
    workflow.refresh_from_db()
    assert workflow.draft == VALID_GRAPH


@pytest.mark.django_db
def test_active_workflow_cannot_be_deleted_until_archived(admin_client, workspace):
    workflow = make_workflow(workspace)
    services.publish(workflow)
    delete_url = reverse("admin:builder_workflow_delete", args=[workflow.pk])

    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    services.change_status(workflow, WorkflowStatus.ARCHIVED)
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Workflow.objects.filter(pk=workflow.pk).exists()


# ---------------------------------------------------------------- versions are immutable


@pytest.mark.django_db
def test_version_admin_refuses_changes(admin_client, workspace, rf, admin_user):
    workflow = make_workflow(workspace)
    version = services.publish(workflow).version
    model_admin = admin.site._registry[WorkflowVersion]
    request = rf.get("/")
    request.user = admin_user

    assert model_admin.has_change_permission(request, version) is False
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_delete_permission(request, version) is False

    response = admin_client.post(change_url(version), {"note": "rewritten", "number": 7})
    assert response.status_code == 403
    version.refresh_from_db()
    assert (version.number, version.note) == (1, "")
    assert admin_client.get(reverse("admin:builder_workflowversion_add")).status_code == 403


# ---------------------------------------------------------------- API keys


@pytest.mark.django_db
def test_api_key_admin_never_shows_the_hash_and_cannot_add(admin_client, workspace):
    key, raw = ApiKey.objects.create_key(workspace, "ci")

    page = admin_client.get(change_url(key)).content.decode()

    assert key.prefix in page
    assert key.key_hash not in page
    assert raw not in page
    assert admin_client.get(reverse("admin:builder_apikey_add")).status_code == 403


@pytest.mark.django_db
def test_revoke_action(admin_client, workspace):
    key, _ = ApiKey.objects.create_key(workspace, "ci")

    messages = run_action(admin_client, ApiKey, "revoke", [key])

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert [m.level for m in messages] == [SUCCESS]


@pytest.mark.django_db
def test_workspace_page_lists_members_and_keys(admin_client, workspace):
    user = get_user_model().objects.create_user("grace", "grace@example.com", "pw")
    Membership.objects.create(workspace=workspace, user=user, role=Role.PUBLISHER)
    key, _ = ApiKey.objects.create_key(workspace, "signup service")

    page = admin_client.get(change_url(workspace)).content.decode()

    assert "grace" in page
    assert "signup service" in page
    assert key.prefix in page
    assert key.key_hash not in page
