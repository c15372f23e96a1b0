"""What the workflows list shows the app: search, page sizes, run counts, in bounded queries.

Invariants: preview runs never count as enrolled or active; listing more
workflows never costs more queries (counts are annotations, not a query per row);
`?page_size=` is honoured on every list up to API_MAX_PAGE_SIZE.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.models import RunStatus
from tests.builder.factories import (
    ContactFactory,
    RunFactory,
    WorkflowFactory,
    published_workflow,
)

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    return [workflow["name"] for workflow in response.json()["results"]]


# ---------------------------------------------------------------- search


def test_q_finds_workflows_by_name_in_any_case(client_a, workspace_a, workspace_b):
    WorkflowFactory(workspace=workspace_a, name="Welcome series")
    WorkflowFactory(workspace=workspace_a, name="Abandoned cart")
    WorkflowFactory(workspace=workspace_a, name="Win-back: WELCOME again")
    WorkflowFactory(workspace=workspace_b, name="Welcome (theirs)")

    response = client_a.get("/api/v1/workflows/", {"q": "welcome"})

    assert response.status_code == 200
    assert sorted(names(response)) == ["Welcome series", "Win-back: WELCOME again"]
    assert response.json()["count"] == 2


def test_q_combines_with_the_status_filter(client_a, workspace_a):
    published_workflow(workspace_a, name="Welcome live")
    WorkflowFactory(workspace=workspace_a, name="Welcome draft")

    response = client_a.get("/api/v1/workflows/", {"q": "WELCOME", "status": "active"})

    assert names(response) == ["Welcome live"]


def test_an_empty_q_lists_everything(client_a, workspace_a):
    WorkflowFactory(workspace=workspace_a, name="One")
    WorkflowFactory(workspace=workspace_a, name="Two")

    assert client_a.get("/api/v1/workflows/", {"q": "  "}).json()["count"] == 2


# ---------------------------------------------------------------- page sizes


def test_page_size_picks_how_many_rows_a_page_has(client_a, workspace_a):
    for n in range(5):
        WorkflowFactory(workspace=workspace_a, name=f"Workflow {n}")

    first = client_a.get("/api/v1/workflows/", {"page_size": 2}).json()
    last = client_a.get("/api/v1/workflows/", {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert "page_size=2" in first["next"]
    assert len(last["results"]) == 1
    assert last["next"] is None


def test_page_size_is_capped_by_api_max_page_size(client_a, workspace_a, settings):
    settings.API_MAX_PAGE_SIZE = 3
    for n in range(5):
        WorkflowFactory(workspace=workspace_a, name=f"Workflow {n}")

    body = client_a.get("/api/v1/workflows/", {"page_size": 1000}).json()

    assert len(body["results"]) == 3


def test_the_default_page_size_applies_without_page_size(client_a, workspace_a, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 2}
    for n in range(3):
        WorkflowFactory(workspace=workspace_a, name=f"Workflow {n}")

    assert len(client_a.get("/api/v1/workflows/").json()["results"]) == 2


@pytest.mark.parametrize(
    "path", ["contacts/", "workflows/active", "workflows/{id}/runs/", "workflows/{id}/versions/"]
)
def test_every_list_honours_page_size(client_a, workspace_a, path):
    workflow = published_workflow(workspace_a)
    published_workflow(workspace_a)
    for _ in range(3):
        RunFactory(workflow=workflow)
    for _ in range(2):
        ContactFactory(workspace=workspace_a)
    client_a.post(f"/api/v1/workflows/{workflow.pk}/publish", {}, format="json")

    body = client_a.get(f"/api/v1/{path.format(id=workflow.pk)}", {"page_size": 1}).json()

    assert body["count"] >= 2
    assert len(body["results"]) == 1
    assert body["next"]


# ---------------------------------------------------------------- counts


def test_each_workflow_shows_its_enrolled_and_active_runs(client_a, workspace_a):
    busy = published_workflow(workspace_a, name="Busy")
    idle = published_workflow(workspace_a, name="Idle")
    RunFactory(workflow=busy, status=RunStatus.RUNNING)
    RunFactory(workflow=busy, status=RunStatus.WAITING)
    RunFactory(workflow=busy, status=RunStatus.WAITING)
    RunFactory(workflow=busy, status=RunStatus.COMPLETED)
    RunFactory(workflow=busy, status=RunStatus.FAILED)
    # Preview runs are a tester's, not contacts' journeys: they never count.
    RunFactory(workflow=busy, status=RunStatus.WAITING, is_preview=True)
    RunFactory(workflow=idle, status=RunStatus.COMPLETED, is_preview=True)

    listed = {w["name"]: w for w in client_a.get("/api/v1/workflows/").json()["results"]}
    detail = client_a.get(f"/api/v1/workflows/{busy.pk}/").json()

    assert (listed["Busy"]["enrolled"], listed["Busy"]["active_runs"]) == (5, 3)
    assert (listed["Idle"]["enrolled"], listed["Idle"]["active_runs"]) == (0, 0)
    assert (detail["enrolled"], detail["active_runs"]) == (5, 3)


def test_a_new_workflow_starts_with_no_runs(client_a):
    body = client_a.post("/api/v1/workflows/", {"name": "Fresh"}, format="json").json()

    assert (body["enrolled"], body["active_runs"], body["revision"]) == (0, 0, 1)


def test_listing_twenty_workflows_costs_no_more_queries_than_listing_two(client_a, workspace_a):
    def queries_to_list() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client_a.get("/api/v1/workflows/", {"page_size": 50})
        assert response.status_code == 200
        return len(captured), response.json()["count"]

    def add_workflows(count: int) -> None:
        for n in range(count):
            workflow = published_workflow(workspace_a, name=f"Workflow {n}")
            RunFactory(workflow=workflow, status=RunStatus.WAITING)
            RunFactory(workflow=workflow, status=RunStatus.COMPLETED)

    add_workflows(2)
    client_a.get("/api/v1/workflows/")  # the key's last-used time is written once
    few, listed = queries_to_list()
    assert listed == 2

    add_workflows(18)
    many, listed = queries_to_list()

    assert listed == 20
    assert many == few
    assert many <= 4  # the key, the count, the page (with every count as a subquery)
