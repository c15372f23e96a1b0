"""A graph may name only its own workspace's workflows and connections.

Invariant: naming another workspace's workflow (`action.enroll`) or stored
connection (a connection field) is an issue on that node's field in plain
words, and publish is refused with nothing published; before, it published
and each run failed or did nothing when it reached the node (issue 16, point 6).
"""

from __future__ import annotations

import pytest

from builder.models import WorkflowVersion
from tests.builder.factories import WorkflowFactory
from tests.builder.graphs import chain, graph, node
from tests.integrations.provider_helpers import stored_connection

pytestmark = pytest.mark.django_db


def with_action(action: dict) -> dict:
    return graph([node("start", "trigger.event"), action], chain("start", action["id"]))


def publish(client, workspace, draft):
    workflow = WorkflowFactory(workspace=workspace, draft=draft)
    response = client.post(f"/api/v1/workflows/{workflow.pk}/publish", {}, format="json")
    return workflow, response


def reference_issues(body: dict) -> list[dict]:
    return [issue for issue in body["issues"] if issue["code"] == "unknown_reference"]


def test_enrolling_in_another_workspaces_workflow_is_refused(client_a, workspace_a, workspace_b):
    theirs = WorkflowFactory(workspace=workspace_b, name="Their journey")
    draft = with_action(node("enroll", "action.enroll", {"workflow": str(theirs.pk)}))

    workflow, response = publish(client_a, workspace_a, draft)

    assert response.status_code == 409, response.content
    [issue] = reference_issues(response.json())
    assert (issue["node"], issue["field"]) == ("enroll", "config.workflow")
    assert "workflow of this workspace" in issue["message"]
    assert str(theirs.pk) not in issue["message"]
    assert not WorkflowVersion.objects.filter(workflow=workflow).exists()
    # The draft's issues (what the canvas shows) name it too.
    shown = client_a.get(f"/api/v1/workflows/{workflow.pk}").json()["issues"]
    assert [(i["node"], i["field"]) for i in reference_issues({"issues": shown})] == [
        ("enroll", "config.workflow")
    ]


def test_enrolling_in_a_workflow_of_ones_own_workspace_publishes(client_a, workspace_a):
    ours = WorkflowFactory(workspace=workspace_a, name="Follow-up")
    draft = with_action(node("enroll", "action.enroll", {"workflow": str(ours.pk)}))

    _workflow, response = publish(client_a, workspace_a, draft)

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("provider", "config", "field"),
    [
        ("jira", {"title": "Call them", "system": "jira"}, "connection"),
        ("slack", {"message": "Big order"}, "channel"),
    ],
)
def test_another_workspaces_connection_is_refused(
    client_a, workspace_a, workspace_b, provider, config, field
):
    theirs = stored_connection(workspace_b, provider, "https://example.com")
    node_type = "action.task" if provider == "jira" else "action.notify"
    draft = with_action(node("act", node_type, {**config, field: str(theirs.pk)}))

    workflow, response = publish(client_a, workspace_a, draft)

    assert response.status_code == 409, response.content
    [issue] = reference_issues(response.json())
    assert (issue["node"], issue["field"]) == ("act", f"config.{field}")
    assert "connection of this workspace" in issue["message"]
    assert not WorkflowVersion.objects.filter(workflow=workflow).exists()

    # The same graph naming a connection of its own workspace has no such issue.
    ours = stored_connection(workspace_a, provider, "https://example.com")
    draft["nodes"][1]["data"]["config"][field] = str(ours.pk)
    saved = client_a.put(f"/api/v1/workflows/{workflow.pk}/draft", draft, format="json")
    assert saved.status_code == 200
    assert reference_issues(saved.json()) == []
