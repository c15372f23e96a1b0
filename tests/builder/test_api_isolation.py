"""Workspace isolation: another workspace's objects do not exist for you.

Invariant: a key of workspace B gets a 404 (never a 403, never the object)
on every endpoint that names an object of workspace A, changes nothing
there, never sees A's objects in its lists, and its events never enrol
contacts into A's workflows.
"""

from __future__ import annotations

import pytest

from automation.models import Contact, Event, Run, RunStatus
from builder.models import Workflow, WorkflowStatus
from tests.builder.factories import ContactFactory, RunFactory, published_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_objects(workspace_a):
    workflow = published_workflow(workspace_a, name="A's workflow")
    contact = ContactFactory(workspace=workspace_a, email="shared@example.com")
    failed = RunFactory(workflow=workflow, contact=contact, status=RunStatus.FAILED)
    waiting = RunFactory(workflow=workflow, status=RunStatus.WAITING)
    return {"workflow": workflow, "contact": contact, "failed": failed, "waiting": waiting}


# Every endpoint that names an object: (method, path template, body).
OBJECT_ENDPOINTS = [
    ("get", "/api/v1/workflows/{workflow}/", None),
    ("patch", "/api/v1/workflows/{workflow}/", {"name": "Taken over"}),
    ("delete", "/api/v1/workflows/{workflow}/", None),
    ("put", "/api/v1/workflows/{workflow}/draft", {"nodes": [], "edges": []}),
    ("post", "/api/v1/workflows/{workflow}/publish", {}),
    ("put", "/api/v1/workflows/{workflow}/status", {"status": "archived"}),
    ("get", "/api/v1/workflows/{workflow}/versions/", None),
    ("post", "/api/v1/workflows/{workflow}/versions/1/restore", {}),
    ("get", "/api/v1/workflows/{workflow}/results", None),
    ("get", "/api/v1/workflows/{workflow}/runs/", None),
    ("get", "/api/v1/runs/{failed}/", None),
    ("post", "/api/v1/runs/{failed}/retry", {}),
    ("post", "/api/v1/runs/{waiting}/cancel", {}),
    ("get", "/api/v1/contacts/{contact}/", None),
    ("patch", "/api/v1/contacts/{contact}/", {"properties": {"owned": True}}),
]


def snapshot(objects) -> tuple:
    workflow = Workflow.objects.get(pk=objects["workflow"].pk)
    contact = Contact.objects.get(pk=objects["contact"].pk)
    return (
        workflow.name,
        workflow.status,
        workflow.draft,
        workflow.versions.count(),
        contact.properties,
        Run.objects.get(pk=objects["failed"].pk).status,
        Run.objects.get(pk=objects["waiting"].pk).status,
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    OBJECT_ENDPOINTS,
    ids=[f"{method} {path}" for method, path, _ in OBJECT_ENDPOINTS],
)
def test_another_workspaces_object_is_a_404(client_b, a_objects, method, path, body):
    before = snapshot(a_objects)
    url = path.format(**{name: obj.pk for name, obj in a_objects.items()})

    response = getattr(client_b, method)(url, body, format="json")

    assert response.status_code == 404
    assert "A's workflow" not in str(response.content)
    assert snapshot(a_objects) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    OBJECT_ENDPOINTS,
    ids=[f"{method} {path}" for method, path, _ in OBJECT_ENDPOINTS],
)
def test_the_same_endpoints_answer_their_own_workspace(client_a, a_objects, method, path, body):
    """The control for the matrix above: the 404s come from isolation, not from bad URLs."""
    url = path.format(**{name: obj.pk for name, obj in a_objects.items()})

    response = getattr(client_a, method)(url, body, format="json")

    assert response.status_code != 404, (url, response.data)


@pytest.mark.parametrize(
    "path", ["/api/v1/workflows/", "/api/v1/workflows/active", "/api/v1/contacts/"]
)
def test_lists_never_show_another_workspaces_objects(client_b, a_objects, path):
    response = client_b.get(path)

    assert response.status_code == 200
    assert response.data["count"] == 0
    assert response.data["results"] == []


def test_own_lists_show_own_objects_only(client_a, client_b, a_objects, workspace_b):
    own = published_workflow(workspace_b, name="B's workflow")

    response = client_b.get("/api/v1/workflows/")

    assert [w["id"] for w in response.data["results"]] == [str(own.pk)]
    assert client_a.get("/api/v1/workflows/").data["count"] == 1


def test_events_never_enrol_into_another_workspaces_workflows(client_b, a_objects, workspace_b):
    response = client_b.post(
        "/api/v1/events",
        {"type": "signup", "contact": {"email": "shared@example.com"}},
        format="json",
    )

    assert response.status_code == 202
    assert response.data["enrolled"] == 0
    assert not Run.objects.filter(workspace=workspace_b).exists()
    assert Run.objects.filter(workflow=a_objects["workflow"]).count() == 2
    # The same email in B is B's own contact; A's contact saw no event.
    event = Event.objects.get()
    assert event.workspace == workspace_b
    assert event.contact.workspace == workspace_b
    assert event.contact != a_objects["contact"]


def test_events_dedupe_per_workspace(client_a, client_b, a_objects):
    body = {"id": "same-id", "type": "ping", "contact": {"email": "x@example.com"}}

    first = client_a.post("/api/v1/events", body, format="json")
    second = client_b.post("/api/v1/events", body, format="json")

    assert first.data["accepted"] == 1
    assert second.data["accepted"] == 1


def test_contact_upsert_never_touches_another_workspaces_contact(client_b, a_objects, workspace_b):
    response = client_b.post(
        "/api/v1/contacts/",
        {"email": "shared@example.com", "properties": {"owned": True}},
        format="json",
    )

    assert response.status_code == 201
    assert response.data["id"] != a_objects["contact"].pk
    a_objects["contact"].refresh_from_db()
    assert a_objects["contact"].properties == {}


def test_workflows_created_by_b_land_in_b(client_b, workspace_b):
    response = client_b.post("/api/v1/workflows/", {"name": "Mine"}, format="json")

    assert Workflow.objects.get(pk=response.data["id"]).workspace == workspace_b
    assert Workflow.objects.get(pk=response.data["id"]).status == WorkflowStatus.DRAFT
