"""Product escalations file their Jira / Linear issues as the tracker nodes do.

Invariant: one implementation (integrations.common.IssueNode) decides where an
issue goes and who gets it. An escalation route that names no project / team
files into the connection's default one, and the route's `assignees` by
level (L1/L2/L3, as action.jira / action.linear take them) assigns each level
to its person; Linear's priority follows the level. A real HTTP server on
127.0.0.1 stands in for Jira and Linear.
"""

from __future__ import annotations

import pytest

from products import services
from products.models import Escalation
from tests.integrations.provider_helpers import stored_connection
from tests.products.factories import ProductFactory, escalate

pytestmark = pytest.mark.django_db

LINEAR_ISSUE = {
    "data": {"issueCreate": {"success": True, "issue": {"id": "i", "identifier": "O-1"}}}
}


def test_escalations_file_into_the_connections_defaults_and_assign_by_level(
    service, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Atlas")
    jira = stored_connection(
        product.workspace,
        "jira",
        service.url,
        {"email": "bot@acme.example", "project_key": "OPS"},
        {"api_token": "jira-t"},
    )
    linear = stored_connection(
        product.workspace, "linear", service.url, {"team_id": "team-ops"}, {"api_key": "lin-k"}
    )
    services.set_configuration(
        product,
        {
            "escalation": {
                "email": False,
                # No project, no team: the connections' defaults.
                "jira": {"connection": jira.pk, "assignees": {"L2": "acc-pm", "L3": "acc-exec"}},
                "linear": {"connection": linear.pk, "assignees": {"L2": "lin-pm"}},
            }
        },
    )
    service.answer(201, {"id": "10", "key": "OPS-1"})
    service.answer(200, LINEAR_ISSUE)
    with django_capture_on_commit_callbacks(execute=True):
        escalation = escalate(product, key="defaults")

    jira_call, linear_call = service.requests
    assert jira_call["path"] == "/rest/api/3/issue"
    fields = service.json(0)["fields"]
    assert fields["project"] == {"key": "OPS"}
    assert fields["assignee"] == {"accountId": "acc-pm"}  # L2: the product manager
    assert fields["summary"] == "[Cairn L2] Atlas is down"
    assert fields["labels"] == ["cairn-escalation", "L2"]
    assert linear_call["path"] == "/graphql"
    assert service.json(1)["variables"]["input"] == {
        "teamId": "team-ops",
        "title": "[Cairn L2] Atlas is down",
        "description": "Errors everywhere.",
        "assigneeId": "lin-pm",
        "priority": 2,  # high: level 2
    }
    escalation.refresh_from_db()
    assert escalation.history[0]["channels"] == ["inbox", "jira", "linear"]

    # Nobody acknowledged: level 3 goes to the executive in Jira; Linear has no L3
    # person, so the issue is unassigned but urgent.
    service.reset()
    service.answer(201, {"id": "11", "key": "OPS-2"})
    service.answer(200, LINEAR_ISSUE)
    with django_capture_on_commit_callbacks(execute=True):
        Escalation.objects.filter(pk=escalation.pk).update(escalate_at=escalation.created_at)
        assert services.raise_overdue_escalations() == 1
    assert service.json(0)["fields"]["assignee"] == {"accountId": "acc-exec"}
    assert service.json(0)["fields"]["project"] == {"key": "OPS"}
    linear_input = service.json(1)["variables"]["input"]
    assert "assigneeId" not in linear_input
    assert (linear_input["teamId"], linear_input["priority"]) == ("team-ops", 1)


def test_a_route_that_names_its_project_and_team_keeps_them(
    service, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Atlas")
    jira = stored_connection(
        product.workspace,
        "jira",
        service.url,
        {"email": "bot@acme.example", "project_key": "OPS"},
        {"api_token": "jira-t"},
    )
    services.set_configuration(
        product,
        {"escalation": {"email": False, "jira": {"connection": jira.pk, "project": "SUP"}}},
    )
    service.answer(201, {"id": "10", "key": "SUP-1"})
    with django_capture_on_commit_callbacks(execute=True):
        escalate(product, key="named", title="Atlas is slow", message="p95 up.")
    fields = service.json(0)["fields"]
    assert fields["project"] == {"key": "SUP"}
    assert "assignee" not in fields
