"""Runs API: one run with its steps in execution order; retry and cancel (409 when refused)."""

from __future__ import annotations

import pytest

from automation.models import Run, RunStatus, StepStatus
from tests.builder.factories import RunFactory, StepFactory

pytestmark = pytest.mark.django_db

STEP_FIELDS = {
    "node_id",
    "node_type",
    "status",
    "output",
    "error",
    "attempt",
    "started_at",
    "finished_at",
}


def test_run_detail_lists_steps_in_execution_order(client_a, published_a):
    run = RunFactory(workflow=published_a, status=RunStatus.FAILED, error="boom")
    StepFactory(
        run=run,
        seq=2,
        node_id="tag",
        node_type="action.tag",
        status=StepStatus.FAILED,
        error="boom",
        attempt=3,
    )
    StepFactory(run=run, seq=1, node_id="start", node_type="trigger.event", output={"a": 1})

    for path in (f"/api/v1/runs/{run.pk}/", f"/api/v1/runs/{run.pk}"):
        response = client_a.get(path)
        assert response.status_code == 200

    body = response.data
    assert body["id"] == str(run.pk)
    assert body["workflow"] == published_a.pk
    assert body["version"] == 1
    assert body["contact"] == run.contact_id
    assert body["status"] == "failed"
    assert body["error"] == "boom"
    assert body["current_node"] == "tag"
    assert {"created_at", "finished_at"} <= set(body)
    assert [step["node_id"] for step in body["steps"]] == ["start", "tag"]
    assert set(body["steps"][0]) >= STEP_FIELDS
    assert body["steps"][0]["output"] == {"a": 1}
    assert body["steps"][1]["attempt"] == 3


def test_retry_a_failed_run(client_a, published_a):
    run = RunFactory(workflow=published_a, status=RunStatus.FAILED, error="boom")
    StepFactory(run=run, seq=1, node_id="tag", node_type="action.tag", status=StepStatus.FAILED)

    response = client_a.post(f"/api/v1/runs/{run.pk}/retry")

    assert response.status_code == 200, response.data
    assert response.data["status"] == "running"
    assert response.data["error"] == ""
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


@pytest.mark.parametrize("state", [RunStatus.COMPLETED, RunStatus.WAITING, RunStatus.CANCELLED])
def test_retry_refuses_a_run_that_did_not_fail(client_a, published_a, state):
    run = RunFactory(workflow=published_a, status=state)

    response = client_a.post(f"/api/v1/runs/{run.pk}/retry")

    assert response.status_code == 409
    assert "only a failed run" in response.data["detail"]
    assert Run.objects.get(pk=run.pk).status == state


@pytest.mark.parametrize("state", [RunStatus.RUNNING, RunStatus.WAITING])
def test_cancel_an_active_run(client_a, published_a, state):
    run = RunFactory(workflow=published_a, status=state)
    StepFactory(run=run, seq=1, node_id="tag", node_type="action.tag", status=StepStatus.WAITING)

    response = client_a.post(f"/api/v1/runs/{run.pk}/cancel/")

    assert response.status_code == 200, response.data
    assert response.data["status"] == "cancelled"
    assert response.data["steps"][0]["status"] == "cancelled"
    assert Run.objects.get(pk=run.pk).status == RunStatus.CANCELLED


@pytest.mark.parametrize("state", [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.EXITED])
def test_cancel_refuses_a_finished_run(client_a, published_a, state):
    run = RunFactory(workflow=published_a, status=state)

    response = client_a.post(f"/api/v1/runs/{run.pk}/cancel")

    assert response.status_code == 409
    assert "only a running or waiting run" in response.data["detail"]
    assert Run.objects.get(pk=run.pk).status == state


def test_an_unknown_run_is_a_404(client_a):
    response = client_a.get("/api/v1/runs/00000000-0000-0000-0000-000000000000/")

    assert response.status_code == 404


def test_runs_are_filtered_by_contact_and_date(client_a, workspace_a):
    from datetime import timedelta

    from django.utils import timezone

    from automation.models import Run
    from tests.builder.factories import ContactFactory, RunFactory, published_workflow

    workflow = published_workflow(workspace_a)
    ada = RunFactory(
        workflow=workflow, contact=ContactFactory(workspace=workspace_a, email="ada@x.io")
    )
    bob = RunFactory(
        workflow=workflow, contact=ContactFactory(workspace=workspace_a, email="bob@x.io")
    )
    Run.objects.filter(pk=bob.pk).update(created_at=timezone.now() - timedelta(days=3))
    url = f"/api/v1/workflows/{workflow.pk}/runs/"

    by_email = client_a.get(url, {"contact": "ADA@"}).data
    assert [run["id"] for run in by_email["results"]] == [str(ada.pk)]
    assert by_email["results"][0]["contact_email"] == "ada@x.io"
    by_id = client_a.get(url, {"contact": str(bob.contact_id)}).data
    assert [run["id"] for run in by_id["results"]] == [str(bob.pk)]
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert [r["id"] for r in client_a.get(url, {"since": since}).data["results"]] == [str(ada.pk)]
    assert [r["id"] for r in client_a.get(url, {"until": since}).data["results"]] == [str(bob.pk)]
    bad = client_a.get(url, {"since": "yesterday"})
    assert bad.status_code == 400
    assert "since" in bad.data["detail"]
