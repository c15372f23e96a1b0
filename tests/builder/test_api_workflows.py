"""Workflows API: CRUD, draft saves, publish, status, versions and restore, results, runs.

Invariant throughout: a refused request (400) changes nothing.
"""

from __future__ import annotations

import pytest

from automation.models import Deployment, RunStatus, StepStatus
from automation.webhooks import webhook_path
from builder.models import Workflow, WorkflowStatus, WorkflowVersion
from tests.builder.factories import (
    RunFactory,
    StepFactory,
    WorkflowFactory,
    broken_graph,
    incomplete_graph,
    published_workflow,
    signup_graph,
    trigger_graph,
)

pytestmark = pytest.mark.django_db

WORKFLOW_FIELDS = {
    "id",
    "name",
    "description",
    "status",
    "priority",
    "draft",
    "revision",
    "version",
    "issues",
    "webhook_url",
    "enrolled",
    "active_runs",
    "created_at",
    "updated_at",
}


def url(workflow, suffix: str = "") -> str:
    return f"/api/v1/workflows/{workflow.pk}/{suffix}"


# ---------------------------------------------------------------- create, read, list


def test_create_with_name_only_gives_an_empty_draft(client_a, workspace_a):
    response = client_a.post("/api/v1/workflows/", {"name": "Welcome"}, format="json")

    assert response.status_code == 201, response.data
    body = response.json()
    assert set(body) == WORKFLOW_FIELDS
    assert body["status"] == "draft"
    assert body["version"] is None
    assert body["webhook_url"] is None
    assert body["draft"]["nodes"] == []
    # An empty graph saves, but its issues say why it cannot be published.
    assert body["issues"]
    workflow = Workflow.objects.get(pk=body["id"])
    assert workflow.workspace == workspace_a


def test_create_with_a_valid_draft_has_no_issues(client_a):
    response = client_a.post(
        "/api/v1/workflows",
        {"name": "Welcome", "description": "Says hello", "draft": signup_graph()},
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["issues"] == []
    assert response.data["description"] == "Says hello"


def test_create_without_a_name_is_refused_naming_the_field(client_a):
    response = client_a.post("/api/v1/workflows/", {"description": "x"}, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith("name:")
    assert "name" in response.data["errors"]
    assert Workflow.objects.count() == 0


def test_create_with_a_broken_draft_is_refused_with_its_issues(client_a):
    response = client_a.post(
        "/api/v1/workflows/", {"name": "Broken", "draft": broken_graph()}, format="json"
    )

    assert response.status_code == 400
    assert response.data["field"] == "draft"
    assert [issue["code"] for issue in response.data["issues"]] == ["unknown_type"]
    assert response.data["issues"][0]["node"] == "tag"
    assert Workflow.objects.count() == 0


def test_malformed_json_is_a_400_not_a_500(client_a):
    response = client_a.post(
        "/api/v1/workflows/", data="{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert "body" in response.data["errors"]
    assert Workflow.objects.count() == 0


def test_list_is_paginated_and_filters_by_status(client_a, workspace_a):
    WorkflowFactory(workspace=workspace_a)
    published_workflow(workspace_a)

    everything = client_a.get("/api/v1/workflows/")
    active = client_a.get("/api/v1/workflows/", {"status": "active"})

    assert everything.status_code == 200
    assert everything.data["count"] == 2
    assert len(everything.data["results"]) == 2
    assert [w["status"] for w in active.data["results"]] == ["active"]
    assert active.data["results"][0]["version"] == 1


def test_list_with_an_unknown_status_is_refused(client_a):
    response = client_a.get("/api/v1/workflows/", {"status": "sleeping"})

    assert response.status_code == 400
    assert response.data["detail"].startswith("status:")


def test_active_lists_only_active_workflows(client_a, workspace_a, published_a):
    WorkflowFactory(workspace=workspace_a)

    for path in ("/api/v1/workflows/active", "/api/v1/workflows/active/"):
        response = client_a.get(path)
        assert response.status_code == 200
        assert response.data["count"] == 1
        assert response.data["results"][0]["id"] == str(published_a.pk)


def test_retrieve_and_rename(client_a, workflow_a):
    assert client_a.get(url(workflow_a)).data["name"] == "Welcome"

    response = client_a.patch(url(workflow_a), {"name": "Hello"}, format="json")

    assert response.status_code == 200
    assert response.data["name"] == "Hello"
    workflow_a.refresh_from_db()
    assert workflow_a.name == "Hello"


def test_rename_to_an_overlong_name_is_refused(client_a, workflow_a):
    response = client_a.patch(url(workflow_a), {"name": "x" * 201}, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith("name:")
    workflow_a.refresh_from_db()
    assert workflow_a.name == "Welcome"


def test_delete_a_draft(client_a, workflow_a):
    response = client_a.delete(url(workflow_a))

    assert response.status_code == 204
    assert not Workflow.objects.filter(pk=workflow_a.pk).exists()


def test_delete_an_active_workflow_is_refused(client_a, published_a):
    response = client_a.delete(url(published_a))

    assert response.status_code == 409  # the stored status refuses it
    assert "archive" in response.data["detail"]
    assert Workflow.objects.filter(pk=published_a.pk).exists()


def test_webhook_url_is_absolute_when_the_draft_has_a_webhook_trigger(client_a, workspace_a):
    workflow = WorkflowFactory(workspace=workspace_a, draft=trigger_graph("trigger.webhook", {}))

    response = client_a.get(url(workflow))

    assert response.data["webhook_url"] == f"http://testserver{webhook_path(workflow.pk)}"


# ---------------------------------------------------------------- draft


@pytest.mark.parametrize("wrapped", [False, True], ids=["graph", "draft-key"])
def test_save_draft_answers_with_issues(client_a, workflow_a, wrapped):
    graph = incomplete_graph()
    body = {"draft": graph} if wrapped else graph

    response = client_a.put(url(workflow_a, "draft"), body, format="json")

    assert response.status_code == 200, response.data
    assert response.data["draft"] == graph
    assert [(i["node"], i["field"]) for i in response.data["issues"]] == [("start", "config.event")]
    workflow_a.refresh_from_db()
    assert workflow_a.draft == graph


def test_save_draft_with_and_without_trailing_slash(client_a, workflow_a):
    for path in (f"/api/v1/workflows/{workflow_a.pk}/draft", url(workflow_a, "draft/")):
        response = client_a.put(path, signup_graph(), format="json")
        assert response.status_code == 200
        assert response.data["issues"] == []


def test_save_broken_draft_is_refused_and_keeps_the_old_one(client_a, workflow_a):
    before = workflow_a.draft

    response = client_a.put(url(workflow_a, "draft"), broken_graph(), format="json")

    assert response.status_code == 400
    assert response.data["issues"][0]["code"] == "unknown_type"
    assert "draft" in response.data["errors"]
    workflow_a.refresh_from_db()
    assert workflow_a.draft == before


def test_save_draft_that_is_not_a_graph_is_refused(client_a, workflow_a):
    response = client_a.put(url(workflow_a, "draft"), [1, 2], format="json")

    assert response.status_code == 400
    assert response.data["issues"][0]["code"] == "malformed"


# ---------------------------------------------------------------- publish, status, versions


def test_publish_an_invalid_draft_is_refused_and_changes_nothing(client_a, workspace_a):
    workflow = WorkflowFactory(workspace=workspace_a, draft=incomplete_graph())

    response = client_a.post(url(workflow, "publish"), format="json")

    # The request is well formed; the stored draft refuses: 409 with its issues.
    assert response.status_code == 409
    assert response.data["detail"]
    assert response.data["issues"][0]["field"] == "config.event"
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.DRAFT
    assert not WorkflowVersion.objects.filter(workflow=workflow).exists()
    assert not Deployment.objects.filter(pk=workflow.pk).exists()


def test_publish_freezes_version_1_then_2(client_a, workflow_a):
    first = client_a.post(url(workflow_a, "publish"), {"note": "first"}, format="json")

    assert first.status_code == 200, first.data
    assert first.data["version"] == 1
    assert first.data["status"] == "active"
    assert first.data["migrated_runs"] == 0
    assert Deployment.objects.get(pk=workflow_a.pk).status == "active"

    client_a.put(url(workflow_a, "draft"), signup_graph("activated"), format="json")
    second = client_a.post(url(workflow_a, "publish/"), {"migrate_runs": True}, format="json")

    assert second.status_code == 200, second.data
    assert second.data["version"] == 2
    assert list(workflow_a.versions.values_list("number", flat=True).order_by("number")) == [
        1,
        2,
    ]


def test_publish_with_a_bad_option_is_refused(client_a, workflow_a):
    response = client_a.post(url(workflow_a, "publish"), {"migrate_runs": "maybe"}, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith("migrate_runs:")
    assert not workflow_a.versions.exists()


def test_versions_list_newest_first_and_restore(client_a, workflow_a):
    client_a.post(url(workflow_a, "publish"), {"note": "v1"}, format="json")
    client_a.put(url(workflow_a, "draft"), signup_graph("activated"), format="json")
    client_a.post(url(workflow_a, "publish"), {"note": "v2"}, format="json")
    client_a.put(url(workflow_a, "draft"), incomplete_graph(), format="json")

    versions = client_a.get(url(workflow_a, "versions/"))

    assert versions.status_code == 200
    assert versions.data["count"] == 2
    newest = versions.data["results"][0]
    assert set(newest) == {"number", "published_at", "published_by", "note", "graph"}
    assert [(v["number"], v["note"]) for v in versions.data["results"]] == [(2, "v2"), (1, "v1")]

    restored = client_a.post(url(workflow_a, "versions/1/restore"))

    assert restored.status_code == 200, restored.data
    assert restored.data["draft"] == signup_graph()
    assert restored.data["version"] == 2  # restoring copies into the draft; it publishes nothing
    workflow_a.refresh_from_db()
    assert workflow_a.draft == signup_graph()


def test_restore_a_version_that_does_not_exist_is_refused(client_a, published_a):
    before = published_a.draft

    response = client_a.post(url(published_a, "versions/7/restore"))

    assert response.status_code == 404
    assert response.data["detail"] == "version 7 does not exist"
    published_a.refresh_from_db()
    assert published_a.draft == before


def test_a_draft_cannot_be_paused(client_a, workflow_a):
    response = client_a.put(url(workflow_a, "status"), {"status": "paused"}, format="json")

    assert response.status_code == 409
    assert response.data["detail"].startswith("status:")
    workflow_a.refresh_from_db()
    assert workflow_a.status == WorkflowStatus.DRAFT


def test_active_paused_active(client_a, published_a):
    paused = client_a.put(url(published_a, "status"), {"status": "paused"}, format="json")
    assert paused.status_code == 200
    assert paused.data["status"] == "paused"
    assert Deployment.objects.get(pk=published_a.pk).status == "paused"

    active = client_a.put(url(published_a, "status/"), {"status": "active"}, format="json")
    assert active.status_code == 200
    assert active.data["status"] == "active"
    assert Deployment.objects.get(pk=published_a.pk).status == "active"


def test_archived_is_final(client_a, published_a):
    archived = client_a.put(url(published_a, "status"), {"status": "archived"}, format="json")
    assert archived.status_code == 200
    assert archived.data["status"] == "archived"

    again = client_a.put(url(published_a, "status"), {"status": "active"}, format="json")
    republish = client_a.post(url(published_a, "publish"))

    assert again.status_code == 409
    assert republish.status_code == 409
    published_a.refresh_from_db()
    assert published_a.status == WorkflowStatus.ARCHIVED
    assert published_a.versions.count() == 1


@pytest.mark.parametrize("body", [{}, {"status": "draft"}, {"status": "sleeping"}])
def test_status_must_be_a_known_target(client_a, published_a, body):
    response = client_a.put(url(published_a, "status"), body, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith("status:")
    published_a.refresh_from_db()
    assert published_a.status == WorkflowStatus.ACTIVE


# ---------------------------------------------------------------- results and runs


def test_results_of_a_workflow_without_runs(client_a, published_a):
    response = client_a.get(url(published_a, "results"))

    assert response.status_code == 200
    assert response.data == {
        "enrolled": 0,
        "by_status": dict.fromkeys(RunStatus.values, 0),
        "nodes": {},
    }


def test_results_count_runs_and_steps(client_a, published_a):
    done = RunFactory(workflow=published_a, status=RunStatus.COMPLETED, current_node="tag")
    StepFactory(run=done, seq=1, node_id="start", node_type="trigger.event")
    StepFactory(run=done, seq=2, node_id="tag", node_type="action.tag")
    failed = RunFactory(workflow=published_a, status=RunStatus.FAILED, current_node="tag")
    StepFactory(run=failed, seq=1, node_id="start", node_type="trigger.event")
    StepFactory(run=failed, seq=2, node_id="tag", node_type="action.tag", status=StepStatus.FAILED)
    RunFactory(workflow=published_a, status=RunStatus.WAITING, current_node="tag")
    RunFactory(workflow=published_a, status=RunStatus.COMPLETED, is_preview=True)

    data = client_a.get(url(published_a, "results")).data

    assert data["enrolled"] == 3  # the preview run never counts
    assert data["by_status"] == {
        "running": 0,
        "waiting": 1,
        "completed": 1,
        "failed": 1,
        "cancelled": 0,
        "exited": 0,
    }
    assert data["nodes"] == {
        "start": {"entered": 2, "waiting": 0, "completed": 2, "failed": 0},
        "tag": {"entered": 2, "waiting": 1, "completed": 1, "failed": 1},
    }


def test_runs_of_a_workflow_filter_by_status(client_a, published_a):
    waiting = RunFactory(workflow=published_a, status=RunStatus.WAITING)
    RunFactory(workflow=published_a, status=RunStatus.COMPLETED)
    RunFactory(workflow=published_a, status=RunStatus.WAITING, is_preview=True)

    everything = client_a.get(url(published_a, "runs/"))
    only_waiting = client_a.get(url(published_a, "runs"), {"status": "waiting"})
    previews = client_a.get(url(published_a, "runs/"), {"preview": "true"})

    assert everything.data["count"] == 2
    assert [r["id"] for r in only_waiting.data["results"]] == [str(waiting.pk)]
    run = only_waiting.data["results"][0]
    assert run["workflow"] == published_a.pk
    assert run["version"] == 1
    assert run["contact"] == waiting.contact_id
    assert previews.data["count"] == 1


def test_runs_with_an_unknown_status_is_refused(client_a, published_a):
    response = client_a.get(url(published_a, "runs/"), {"status": "sleeping"})

    assert response.status_code == 400
    assert response.data["detail"].startswith("status:")
