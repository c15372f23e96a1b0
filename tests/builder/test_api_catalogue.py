"""The node catalogue, the template gallery, and the OpenAPI schema and docs."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from builder import gallery
from builder.models import Role, Workflow, WorkflowStatus
from builder.validation import structural_issues, validate_graph

pytestmark = pytest.mark.django_db

CORE_TYPES = {
    "trigger.event",
    "trigger.webhook",
    "trigger.schedule",
    "trigger.property",
    "trigger.segment",
    "trigger.inactivity",
    "condition.if",
    "condition.switch",
    "condition.split",
    "wait.delay",
    "wait.until",
    "wait.event",
    "action.email",
    "action.update_contact",
    "action.tag",
    "action.webhook",
    "action.notify",
    "action.task",
    "action.enroll",
    "flow.end",
}
NODE_TYPE_FIELDS = {
    "type",
    "category",
    "label",
    "description",
    "version",
    "config_schema",
    "handles",
    "handles_from",
    "fixed_handles",
    "branching",
    "summary",
}


def test_node_types_is_the_catalogue(client_a):
    response = client_a.get("/api/v1/node-types/")

    assert response.status_code == 200
    assert response.data["count"] == len(response.data["results"])
    by_type = {item["type"]: item for item in response.data["results"]}
    assert set(by_type) >= CORE_TYPES
    assert all(set(item) == NODE_TYPE_FIELDS for item in by_type.values())
    assert by_type["condition.if"]["handles"] == ["yes", "no"]
    assert by_type["trigger.event"]["config_schema"]["required"] == ["event"]
    # The canvas draws a switch's handles from its cases, then these.
    assert by_type["condition.switch"]["fixed_handles"] == ["default"]
    assert by_type["wait.delay"]["summary"] == "Wait {:duration}"


def test_node_types_need_authentication():
    assert APIClient().get("/api/v1/node-types/").status_code == 401


def test_templates_list(client_a):
    response = client_a.get("/api/v1/templates/")

    assert response.status_code == 200
    assert response.data["count"] == len(gallery.list_templates()) > 0
    first = response.data["results"][0]
    assert {"slug", "name", "description", "category", "graph"} <= set(first)


def test_use_a_template_creates_a_draft_named_after_it(client_a, workspace_a):
    template = gallery.list_templates()[0]

    response = client_a.post(f"/api/v1/templates/{template['slug']}/use")

    assert response.status_code == 201, response.data
    assert response.data["name"] == template["name"]
    assert response.data["status"] == "draft"
    assert response.data["draft"] == template["graph"]
    workflow = Workflow.objects.get(pk=response.data["id"])
    assert workflow.workspace == workspace_a
    assert workflow.template_slug == template["slug"]
    assert workflow.status == WorkflowStatus.DRAFT
    assert not structural_issues(validate_graph(workflow.draft))


def test_use_a_template_with_a_name(client_a):
    slug = gallery.list_templates()[0]["slug"]

    response = client_a.post(f"/api/v1/templates/{slug}/use/", {"name": "Mine"}, format="json")

    assert response.status_code == 201
    assert response.data["name"] == "Mine"


def test_use_an_unknown_template_is_a_404(client_a):
    response = client_a.post("/api/v1/templates/no-such-template/use")

    assert response.status_code == 404
    assert not Workflow.objects.exists()


def test_use_a_template_with_a_bad_name_is_refused(client_a):
    slug = gallery.list_templates()[0]["slug"]

    response = client_a.post(f"/api/v1/templates/{slug}/use", {"name": "x" * 201}, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith("name:")
    assert not Workflow.objects.exists()


def test_a_viewer_cannot_use_templates(client_for):
    slug = gallery.list_templates()[0]["slug"]

    response = client_for(Role.VIEWER).post(f"/api/v1/templates/{slug}/use")

    assert response.status_code == 403
    assert not Workflow.objects.exists()


def test_openapi_schema_describes_the_contract(client_a):
    response = client_a.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/events",
        "/api/v1/workflows/",
        "/api/v1/workflows/{id}/",
        "/api/v1/workflows/{id}/draft",
        "/api/v1/workflows/{id}/publish",
        "/api/v1/workflows/{id}/status",
        "/api/v1/workflows/active",
        "/api/v1/workflows/{id}/versions/",
        "/api/v1/workflows/{id}/versions/{number}/restore",
        "/api/v1/workflows/{id}/results",
        "/api/v1/workflows/{id}/runs/",
        "/api/v1/runs/{id}/",
        "/api/v1/runs/{id}/retry",
        "/api/v1/runs/{id}/cancel",
        "/api/v1/node-types/",
        "/api/v1/contacts/",
        "/api/v1/contacts/{id}/",
        "/api/v1/templates/",
        "/api/v1/templates/{slug}/use",
        "/api/v1/dead-letters",
        "/api/v1/dead-letters/retry",
        "/api/v1/dead-letters/discard",
    ):
        assert path in paths, path
    parameters = paths["/api/v1/workflows/"]["get"]["parameters"]
    assert "X-Cairn-Workspace" in {p["name"] for p in parameters}


def test_api_docs_page(session_client, member):
    response = session_client(member).get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
