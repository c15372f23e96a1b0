"""Server errors and undocumented answers schemathesis found, each pinned (issue 16, point 12).

Invariant: whatever a client sends, the API answers in its documented JSON
shapes, never a 500 or an HTML page.
"""

from __future__ import annotations

import pytest

from automation.models import Event, RunStatus
from tests.builder.factories import RunFactory, published_workflow
from tests.integrations.provider_helpers import stored_connection

pytestmark = pytest.mark.django_db

# Offsets past ±15:59 are valid ISO-8601 and PostgreSQL refuses them.
FAR_OFFSET = "0817-02-22T07:40:21.014103+18:06"


def test_a_date_filter_with_a_far_offset_is_read_in_utc(client_a, published_a):
    for path in ("/api/v1/dead-letters", f"/api/v1/workflows/{published_a.pk}/runs/"):
        response = client_a.get(path, {"since": FAR_OFFSET, "until": "2999-01-01"})
        assert response.status_code == 200, (path, response.content)
        assert response.json()["count"] == 0


def test_a_segment_timestamp_with_a_far_offset_is_stored_in_utc(client_a, workspace_a):
    response = client_a.post(
        "/api/v1/segment/track",
        {"event": "signup", "userId": "u-1", "timestamp": "2024-05-05T20:12:56+16:37"},
        format="json",
    )

    assert response.status_code == 200, response.content
    stored = Event.objects.get(workspace=workspace_a)
    assert stored.occurred_at.isoformat() == "2024-05-05T03:35:56+00:00"


def test_a_connection_is_deleted_while_a_preview_run_waits(client_a, workspace_a):
    """A waiting preview run has no version: the in-use check read version None (a 500)."""
    connection = stored_connection(workspace_a, "slack", "https://example.com")
    RunFactory(
        workflow=published_workflow(workspace_a),
        is_preview=True,
        version=None,  # a preview runs its draft
        status=RunStatus.WAITING,
    )

    response = client_a.delete(f"/api/v1/connections/{connection.pk}/")

    assert response.status_code == 204, response.content


@pytest.mark.parametrize("method", ["get", "delete", "patch"])
def test_a_path_no_route_knows_is_a_json_404(client_a, method):
    for path in ("/api/v1/connections/null,null/", "/api/v1/nothing", "/hooks/workflows/x/y"):
        response = getattr(client_a, method)(path)
        assert response.status_code == 404, (path, response.status_code)
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"]


@pytest.mark.parametrize("query", [{"page_size": "null"}, {"page": "0"}, {"page_size": "-5"}])
def test_a_page_parameter_that_is_not_a_whole_number_is_a_400_naming_it(client_a, query):
    response = client_a.get("/api/v1/workflows/", query)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == list(query)


def test_the_templates_list_is_documented_as_served(client_a):
    schema = client_a.get("/api/schema/", {"format": "json"}).json()
    documented = schema["paths"]["/api/v1/templates/"]["get"]["responses"]["200"]
    reference = documented["content"]["application/json"]["schema"]["$ref"]
    served = client_a.get("/api/v1/templates/").json()

    assert reference == "#/components/schemas/TemplateList"
    assert set(schema["components"]["schemas"]["TemplateList"]["required"]) == set(served)
