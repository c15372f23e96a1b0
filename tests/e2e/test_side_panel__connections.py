"""The node's side panel tests the connection it uses, for real.

Invariant: "Test connection" in the side panel makes the provider's cheapest
authenticated call from the server (here Slack's auth.test, to a real HTTP
server on 127.0.0.1 standing in for Slack) and shows what came back: a
success with the account it signed in as, a failure with Slack's reason;
never the secret.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from builder.models import Workflow
from integrations.models import Connection
from tests.e2e.ui import Ui, log_in

pytestmark = [pytest.mark.django_db(transaction=True)]

TOKEN = "xoxb-e2e-side-panel-0042"


def test_the_side_panel_tests_the_nodes_connection(page, live_server_url, editor_user, http_target):
    user = editor_user()
    slack = Connection(
        workspace=user.workspace,
        provider="slack",
        name="Team Slack",
        settings={"base_url": http_target.url},
    )
    slack.set_secrets({"bot_token": TOKEN})
    slack.save()
    draft = {
        "nodes": [
            {
                "id": "signup",
                "type": "trigger.event",
                "position": {"x": 0, "y": 0},
                "data": {"config": {"event": "signup"}},
            },
            {
                "id": "tell_sales",
                "type": "action.slack",
                "position": {"x": 0, "y": 160},
                "data": {
                    "config": {"connection": str(slack.pk), "channel": "#sales", "text": "hi"}
                },
            },
        ],
        "edges": [{"id": "e1", "source": "signup", "target": "tell_sales"}],
        "settings": {},
    }
    workflow = Workflow.objects.create(workspace=user.workspace, name="Tell sales", draft=draft)
    log_in(page, live_server_url, user.username, user.raw_password)
    page.goto(f"/workflows/{workflow.pk}/")
    ui = Ui(page)
    ui.node("tell_sales").click()
    panel = ui.panel()
    expect(panel.get_by_role("combobox").first).to_have_value(str(slack.pk))
    test = panel.get_by_role("button", name="Test Slack connection")
    verdict = panel.get_by_role("status")

    http_target.answer(200, b'{"ok": true, "team": "Acme", "user": "cairn-bot"}')
    test.click()
    expect(verdict).to_have_text("✓ signed in to Acme as cairn-bot")

    http_target.answer(200, b'{"ok": false, "error": "invalid_auth"}')
    test.click()
    expect(verdict).to_have_text("✗ Slack auth.test: invalid_auth")
    expect(verdict).to_have_class("field-error")

    calls = [(r["method"], r["path"], r["headers"]["authorization"]) for r in http_target.requests]
    assert calls == [("POST", "/auth.test", f"Bearer {TOKEN}")] * 2
    assert json.loads(http_target.requests[0]["body"]) == {}
    assert TOKEN not in page.content()
    stored = Connection.objects.get(pk=slack.pk)
    assert (stored.last_test_ok, stored.last_test_detail) == (
        False,
        "Slack auth.test: invalid_auth",
    )
    assert page.console_problems == []
