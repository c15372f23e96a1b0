"""wait.event sees the events that arrived while the run was busy or queued.

Invariant: a run that reaches wait.event takes `received` for a matching
event stored since it was enrolled (or within the node's `lookback`), even
if the event arrived before the run got there; each event satisfies one
wait of a run only, and the trigger event never satisfies a wait.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from automation.engine import advance_run
from automation.models import Run, RunStatus
from tests.automation.workflows import chain, edge, graph, node, path_of, published, send
from tests.conftest import wait_until


def cart_flow(*before_wait, lookback=None, rules=None, second_wait=False, event="order_placed"):
    start = node("start", "trigger.event", event="cart_created")
    config = {"event": event, "timeout": {"amount": 1, "unit": "hours"}}
    if lookback:
        config["lookback"] = lookback
    if rules:
        config["rules"] = rules
    wait = node("wait", "wait.event", **config)
    bought = node("bought", "action.tag", add=["bought"])
    nudge = node("nudge", "action.tag", add=["nudged"])
    nodes = [start, *before_wait, wait, bought, nudge]
    edges = [*chain(start, *before_wait, wait), edge("wait", "nudge", "timeout")]
    if second_wait:
        again = node("again", "wait.event", **{**config, "rules": []})
        twice = node("twice", "action.tag", add=["twice"])
        nodes += [again, twice]
        edges += [
            edge("wait", "again", "received"),
            edge("again", "twice", "received"),
            edge("again", "bought", "timeout"),
        ]
    else:
        edges.append(edge("wait", "bought", "received"))
    return published(graph(nodes, edges))


@pytest.mark.django_db
def test_an_event_stored_while_the_run_was_queued_is_received_at_once():
    cart_flow()
    send("cart_created", "buyer@example.com")
    run = Run.objects.get()
    # The order arrives before any worker picked the run up.
    send("order_placed", "buyer@example.com", data={"total": 42})

    advance_run(run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert path_of(run) == ["start", "wait", "bought"]
    assert run.outputs["wait"]["event"]["data"] == {"total": 42}


@pytest.mark.django_db
def test_events_before_enrolment_and_the_trigger_event_do_not_count():
    cart_flow(event="cart_created")
    send("cart_created", "old@example.com", occurred_at=timezone.now() - timedelta(days=1))
    Run.objects.all().delete()  # that first cart was before this enrolment
    send("cart_created", "old@example.com")
    run = Run.objects.get()

    advance_run(run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    assert run.waiting_for == "cart_created"


@pytest.mark.django_db
def test_lookback_reaches_events_from_before_enrolment():
    cart_flow(lookback={"amount": 2, "unit": "days"})
    send("order_placed", "early@example.com", occurred_at=timezone.now() - timedelta(days=1))
    send("cart_created", "early@example.com")
    run = Run.objects.get()

    advance_run(run.pk)

    run.refresh_from_db()
    assert path_of(run) == ["start", "wait", "bought"]


@pytest.mark.django_db
def test_only_matching_events_count_and_each_one_satisfies_one_wait():
    rules = [{"field": "event.data.total", "op": "gte", "value": 50}]
    cart_flow(rules=rules, second_wait=True)
    send("cart_created", "buyer@example.com")
    run = Run.objects.get()
    send("order_placed", "buyer@example.com", data={"total": 10})  # does not match the rule
    send("order_placed", "buyer@example.com", data={"total": 99})

    advance_run(run.pk)

    run.refresh_from_db()
    # The first wait took the 99 order; the 10 order (before it) is the one left
    # for the second wait (no rules): each event is received once.
    assert path_of(run) == ["start", "wait", "again", "twice"]
    assert run.outputs["wait"]["event"]["data"] == {"total": 99}
    assert run.outputs["again"]["event"]["data"] == {"total": 10}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_an_order_posted_during_a_slow_webhook_is_not_missed(http_target):
    # The report: trigger → webhook (2 s) → wait.event; the order arrived during
    # the webhook call, and the buyer still got the "you left your cart" branch.
    http_target.answer(delay=2)
    hook = node("hook", "action.webhook", method="POST", url=f"{http_target.url}/crm")
    cart_flow(hook)
    send("cart_created", "buyer@example.com")
    wait_until(lambda: http_target.requests, what="the webhook call starts")
    send("order_placed", "buyer@example.com", data={"total": 42})

    run = wait_until(
        lambda: Run.objects.filter(status=RunStatus.COMPLETED).first(),
        timeout=30,
        what="the run takes the received branch instead of waiting an hour",
    )
    assert path_of(run) == ["start", "hook", "wait", "bought"]
