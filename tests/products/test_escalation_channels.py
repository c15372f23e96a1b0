"""An escalation reaches the channels its product's configuration names:
a real Slack-compatible and Jira-compatible HTTP server on 127.0.0.1 records
what each level posted; a channel that fails is logged and left out."""

from __future__ import annotations

import json

import pytest

from products import services
from products.models import Escalation
from tests.integrations.provider_helpers import stored_connection
from tests.products.factories import ProductFactory, escalate

pytestmark = pytest.mark.django_db


def test_levels_go_to_slack_and_jira(http_target, django_capture_on_commit_callbacks):
    product = ProductFactory(name="Atlas")
    slack = stored_connection(
        product.workspace, "slack", http_target.url, secrets={"bot_token": "xoxb-1"}
    )
    jira = stored_connection(
        product.workspace,
        "jira",
        http_target.url,
        settings={"email": "bot@example.com"},
        secrets={"api_token": "t"},
    )
    services.set_configuration(
        product,
        {
            "escalation": {
                "email": False,
                "slack": {"connection": slack.pk, "channel": "#atlas"},
                "jira": {"connection": jira.pk, "project": "OPS", "issue_type": "Task"},
            }
        },
    )
    http_target.answer(body=b'{"ok": true, "channel": "C1", "ts": "1.2"}')
    http_target.answer(body=b'{"id": "10", "key": "OPS-1"}')
    with django_capture_on_commit_callbacks(execute=True):
        escalation = escalate(product, key="channels")
    posted = [(r["path"], json.loads(r["body"])) for r in http_target.requests]
    assert posted[0] == (
        "/chat.postMessage",
        {"channel": "#atlas", "text": "[Cairn L2] Atlas is down\n\nErrors everywhere."},
    )
    assert posted[1][0] == "/rest/api/3/issue"
    assert posted[1][1]["fields"]["summary"] == "[Cairn L2] Atlas is down"
    assert posted[1][1]["fields"]["labels"] == ["cairn-escalation", "L2"]
    escalation.refresh_from_db()
    assert escalation.history[0]["channels"] == ["inbox", "slack", "jira"]

    # Slack refuses the next level: the escalation still rises, Jira still gets it.
    http_target.reset()
    http_target.answer(body=b'{"ok": false, "error": "channel_not_found"}')
    http_target.answer(body=b'{"id": "11", "key": "OPS-2"}')
    with django_capture_on_commit_callbacks(execute=True):
        Escalation.objects.filter(pk=escalation.pk).update(escalate_at=escalation.created_at)
        assert services.raise_overdue_escalations() == 1
    escalation.refresh_from_db()
    assert escalation.level == 3
    assert escalation.history[1]["channels"] == ["inbox", "jira"]


def test_a_level_goes_to_linear_with_the_level_as_priority(
    http_target, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Atlas")
    linear = stored_connection(
        product.workspace, "linear", http_target.url, secrets={"api_key": "lin-k"}
    )
    services.set_configuration(
        product,
        {
            "escalation": {
                "email": False,
                "linear": {"connection": linear.pk, "team_id": "team-ops"},
            }
        },
    )
    issue = {"id": "i-1", "identifier": "OPS-7", "url": "https://linear.example/OPS-7"}
    http_target.answer(
        body=json.dumps({"data": {"issueCreate": {"success": True, "issue": issue}}}).encode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        escalation = escalate(product, key="linear", level=3)
    [request] = http_target.requests
    assert request["path"] == "/graphql"
    assert request["headers"]["authorization"] == "lin-k"
    sent = json.loads(request["body"])["variables"]["input"]
    assert sent == {
        "teamId": "team-ops",
        "title": "[Cairn L3] Atlas is down",
        "description": "Errors everywhere.",
        "priority": 1,  # urgent: level 3
    }
    escalation.refresh_from_db()
    assert escalation.history[0]["channels"] == ["inbox", "linear"]
