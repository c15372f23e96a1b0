"""A workflow's priority through the API and the admin: high, normal (the default) or low.

Invariant: a bad value is a 400 naming `priority`, and nothing is written.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from builder.models import Role, Workflow
from tests.builder.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


def test_a_new_workflow_is_normal_unless_told(client_a):
    plain = client_a.post("/api/v1/workflows/", {"name": "Plain"}, format="json")
    urgent = client_a.post(
        "/api/v1/workflows/", {"name": "Password reset", "priority": "high"}, format="json"
    )

    assert plain.status_code == 201 and plain.data["priority"] == "normal"
    assert urgent.status_code == 201 and urgent.data["priority"] == "high"
    assert Workflow.objects.get(name="Password reset").priority == "high"


def test_an_editor_changes_the_priority(client_for, workflow_a):
    response = client_for(Role.EDITOR).patch(
        f"/api/v1/workflows/{workflow_a.pk}/", {"priority": "low"}, format="json"
    )

    assert response.status_code == 200, response.data
    assert response.data["priority"] == "low"
    assert response.data["name"] == "Welcome"  # nothing else changed
    workflow_a.refresh_from_db()
    assert workflow_a.priority == "low"
    listed = client_for(Role.VIEWER).get("/api/v1/workflows/")
    assert listed.data["results"][0]["priority"] == "low"


def test_a_viewer_cannot_change_it(client_for, workflow_a):
    response = client_for(Role.VIEWER).patch(
        f"/api/v1/workflows/{workflow_a.pk}/", {"priority": "high"}, format="json"
    )

    assert response.status_code == 403
    assert Workflow.objects.get(pk=workflow_a.pk).priority == "normal"


@pytest.mark.parametrize("value", ["urgent", "", None, 1, ["high"]])
def test_a_bad_priority_is_a_400_naming_it_and_nothing_is_written(client_a, workflow_a, value):
    patched = client_a.patch(
        f"/api/v1/workflows/{workflow_a.pk}/",
        {"name": "Renamed", "priority": value},
        format="json",
    )
    created = client_a.post("/api/v1/workflows/", {"name": "New", "priority": value}, format="json")

    for response in (patched, created):
        assert response.status_code == 400
        assert list(response.data["errors"]) == ["priority"]
        assert response.data["detail"].startswith("priority: ")
    workflow_a.refresh_from_db()
    assert (workflow_a.name, workflow_a.priority) == ("Welcome", "normal")
    assert not Workflow.objects.filter(name="New").exists()


def test_the_admin_lists_filters_and_edits_the_priority(admin_client, workspace_a):
    low = WorkflowFactory(workspace=workspace_a, name="Bulk import", priority="low")
    WorkflowFactory(workspace=workspace_a, name="Password reset", priority="high")
    changelist = reverse("admin:builder_workflow_changelist")

    filtered = admin_client.get(changelist, {"priority__exact": "low"})
    page = admin_client.get(reverse("admin:builder_workflow_change", args=[low.pk]))

    assert [w.name for w in filtered.context["cl"].result_list] == ["Bulk import"]
    assert 'name="priority"' in page.content.decode()
