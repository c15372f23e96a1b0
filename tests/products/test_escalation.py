"""Escalations: acknowledging one closes its own inbox items and nothing else of
its run; level 1 (automated guidance) stays in the inbox and pages nobody;
a level raised while the previous level's channels are still being called
is kept in the history (two writers, each on its own connection)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from automation.engine import advance_run
from automation.models import InboxItem, Run
from products import services
from products.models import Escalation
from tests.builder.factories import published_workflow
from tests.conftest import wait_until
from tests.integrations.provider_helpers import stored_connection
from tests.products.factories import ProductFactory, escalate, graph


@pytest.mark.django_db
def test_acknowledging_marks_only_the_escalations_own_inbox_items(workspace_a, client_a):
    product = ProductFactory(workspace=workspace_a, name="Atlas")
    services.set_configuration(product, {"escalation": {"email": False}})
    published_workflow(
        workspace_a,
        graph(
            {"id": "critical", "type": "trigger.product_health", "config": {"band": "critical"}},
            {
                "id": "call",
                "type": "action.task",
                "config": {"title": "Call the top accounts", "assignee": "sales"},
            },
            {
                "id": "escalate",
                "type": "action.escalate",
                "config": {
                    "level": 2,
                    "acknowledge_within": {"amount": 1, "unit": "hours"},
                    "title": "Atlas is critical",
                },
            },
        ),
    )
    _crossing, [run] = services.fire_from_api(
        product, "product_health", band="critical", feature_key="", value=30.0, payload={}
    )
    advance_run(run.pk)
    assert Run.objects.get(pk=run.pk).status == "completed"
    escalation = Escalation.objects.get()
    services.raise_overdue_escalations(timezone.now() + timedelta(hours=2))  # level 3
    assert InboxItem.objects.filter(run=run).count() == 3

    response = client_a.post(f"/api/v1/escalations/{escalation.pk}/acknowledge", {}, format="json")
    assert response.status_code == 200
    done = dict(InboxItem.objects.filter(run=run).values_list("title", "done"))
    assert done == {
        "Call the top accounts": False,  # the action.task's: someone else's work
        "[L2 product manager] Atlas is critical": True,
        "[L3 executive] Atlas is critical": True,
    }


@pytest.mark.django_db
def test_level_1_guidance_stays_in_the_inbox(http_target, django_capture_on_commit_callbacks):
    product = ProductFactory(name="Atlas")
    slack = stored_connection(
        product.workspace, "slack", http_target.url, secrets={"bot_token": "xoxb-1"}
    )
    services.set_configuration(
        product, {"escalation": {"slack": {"connection": slack.pk, "channel": "#atlas"}}}
    )
    with django_capture_on_commit_callbacks(execute=True):
        escalation = escalate(
            product,
            key="guidance",
            level=1,
            max_level=2,
            title="Atlas is declining",
            message="Please look.",
            guidance="Check the error rate first.",
        )
    assert http_target.requests == []  # no Slack post, no email: nobody is paged
    escalation.refresh_from_db()
    assert escalation.history[0]["channels"] == ["inbox"]
    item = InboxItem.objects.get()
    assert (item.kind, item.assignee) == ("notification", "")
    assert item.body.startswith("Check the error rate first.")
    # Not acknowledged: level 2 reaches the product manager in Slack.
    http_target.answer(body=b'{"ok": true, "channel": "C1", "ts": "1.2"}')
    with django_capture_on_commit_callbacks(execute=True):
        services.raise_overdue_escalations(timezone.now() + timedelta(seconds=61))
    assert [r["path"] for r in http_target.requests] == ["/chat.postMessage"]
    escalation.refresh_from_db()
    assert escalation.history[1]["channels"] == ["inbox", "email", "slack"]


@pytest.mark.django_db(transaction=True)
def test_a_level_raised_during_a_slow_channel_call_is_kept(http_target, outbox):
    product = ProductFactory(name="Atlas")
    slack = stored_connection(
        product.workspace, "slack", http_target.url, secrets={"bot_token": "xoxb-1"}
    )
    services.set_configuration(
        product,
        {"escalation": {"email": False, "slack": {"connection": slack.pk, "channel": "#atlas"}}},
    )
    # Slack takes 2 s to take level 2; level 3's post is answered at once.
    http_target.answer(body=b'{"ok": true, "channel": "C1", "ts": "1.1"}', delay=2.0)
    http_target.answer(body=b'{"ok": true, "channel": "C1", "ts": "1.2"}')
    failures = []

    def in_thread(work):
        def run():
            try:
                work()
            except Exception as error:  # reported by the test below
                failures.append(error)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def open_level_2():
        # Commits, then calls Slack (after commit, with no lock held).
        escalate(product, key="race", acknowledge_within=1)

    first = in_thread(open_level_2)
    wait_until(lambda: len(http_target.requests) == 1, what="level 2 is being posted to Slack")
    # Meanwhile nobody acknowledged: beat raises it to level 3 (and posts that).
    second = in_thread(
        lambda: services.raise_overdue_escalations(timezone.now() + timedelta(seconds=5))
    )
    second.join(timeout=30)
    first.join(timeout=30)
    assert not failures, failures
    escalation = Escalation.objects.get()
    assert escalation.level == 3
    assert [(h["level"], h["channels"]) for h in escalation.history] == [
        (2, ["inbox", "slack"]),
        (3, ["inbox", "slack"]),
    ]
