"""Which events wake a wait or end a run (automation/awaited.py).

Invariants:
- each event is taken by one visit of a run's waits, also when a loop brings
  the run back to the same wait: n matching events make n laps, never more;
- a run's events are those received after it was enrolled, in the order they
  were received: a sender's clock (`occurred_at`) never hides one, and the
  order of a batch is kept;
- the wait path (a run reaching a wait, an event arriving for a waiting run)
  and the exit path (a waiting run, a running run) follow that same rule.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation.engine import advance_run
from automation.ingest import ContactRef, IncomingEvent, ingest_events
from automation.models import Run, RunStatus
from tests.automation.workflows import chain, edge, graph, node, path_of, published, send, workspace


def page_view_loop():
    """signup → wait for page_view (3 days) → tag → update contact → back to the wait."""
    start = node("start", "trigger.event", event="signup")
    wait = node("wait", "wait.event", event="page_view", timeout={"amount": 3, "unit": "days"})
    tag = node("tag", "action.tag", add=["engaged"])
    update = node("update", "action.update_contact", properties={"seen": "yes"})
    done = node("done", "flow.end")
    return published(
        graph(
            [start, wait, tag, update, done],
            [
                *chain(start, wait),
                edge("wait", "tag", "received"),
                *chain(tag, update),
                edge("update", "wait"),
                edge("wait", "done", "timeout"),
            ],
        )
    )


def laps(run: Run) -> int:
    return path_of(run).count("tag")


def advance(run: Run) -> Run:
    advance_run(run.pk)
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_a_loop_through_a_wait_takes_each_event_once():
    # The report: two page_view events gave 500 steps and 166 contact updates,
    # then the run failed on the step limit.
    page_view_loop()
    send("signup", "ada@example.com")
    run = Run.objects.get()
    send("page_view", "ada@example.com", event_id="pv-1")
    send("page_view", "ada@example.com", event_id="pv-2")

    run = advance(run)

    assert laps(run) == 2
    assert run.status == RunStatus.WAITING
    assert run.waiting_for == "page_view"
    assert path_of(run) == ["start", "wait", "tag", "update", "wait", "tag", "update", "wait"]


@pytest.mark.django_db
def test_events_arriving_during_the_loop_and_duplicates_make_one_lap_each():
    page_view_loop()
    send("signup", "ada@example.com")
    run = advance(Run.objects.get())
    assert run.status == RunStatus.WAITING

    # One arrives while the run waits (it wakes it), one while it is on its way
    # back to the wait, and the sender retries the first (the same id).
    send("page_view", "ada@example.com", event_id="pv-1")
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    send("page_view", "ada@example.com", event_id="pv-2")
    send("page_view", "ada@example.com", event_id="pv-1")
    run = advance(run)
    assert laps(run) == 2
    assert run.status == RunStatus.WAITING

    send("page_view", "ada@example.com", event_id="pv-3")
    run = advance(run)
    assert laps(run) == 3
    assert run.status == RunStatus.WAITING
    taken = [
        step.output["event"]["id"]
        for step in run.steps.filter(node_id="wait").order_by("seq")
        if "event" in step.output
    ]
    assert taken == ["pv-1", "pv-2", "pv-3"]


@pytest.mark.django_db
def test_a_loop_with_a_lookback_takes_older_events_once_too():
    start = node("start", "trigger.event", event="signup")
    wait = node(
        "wait",
        "wait.event",
        event="page_view",
        timeout={"amount": 3, "unit": "days"},
        lookback={"amount": 2, "unit": "days"},
    )
    tag = node("tag", "action.tag", add=["engaged"])
    done = node("done", "flow.end")
    published(
        graph(
            [start, wait, tag, done],
            [
                *chain(start, wait),
                edge("wait", "tag", "received"),
                edge("tag", "wait"),
                edge("wait", "done", "timeout"),
            ],
        )
    )
    send("page_view", "ada@example.com", event_id="before")
    send("signup", "ada@example.com")
    send("page_view", "ada@example.com", event_id="after")

    run = advance(Run.objects.get())

    assert laps(run) == 2
    assert run.status == RunStatus.WAITING


def cart_flow(**settings):
    start = node("start", "trigger.event", event="cart_created")
    wait = node("wait", "wait.event", event="order_placed", timeout={"amount": 4, "unit": "hours"})
    bought = node("bought", "action.tag", add=["recovered"])
    remind = node("remind", "action.tag", add=["reminded"])
    return published(
        graph(
            [start, wait, bought, remind],
            [
                *chain(start, wait),
                edge("wait", "bought", "received"),
                edge("wait", "remind", "timeout"),
            ],
            **settings,
        )
    )


@pytest.mark.django_db
def test_an_order_from_a_client_whose_clock_is_behind_wakes_the_waiting_run():
    # The report: an order_placed stamped 1 s after its cart_created, received
    # after the run was created, sent the buyer down the timeout path.
    cart_flow()
    cart_time = timezone.now() - timedelta(seconds=5)  # the shop's clock is 5 s slow
    send("cart_created", "buyer@example.com", occurred_at=cart_time)
    run = advance(Run.objects.get())
    assert run.status == RunStatus.WAITING

    send("order_placed", "buyer@example.com", occurred_at=cart_time + timedelta(seconds=1))

    run = advance(run)
    assert path_of(run) == ["start", "wait", "bought"]
    assert run.status == RunStatus.COMPLETED


def send_batch(*events: tuple[str, str]):
    """One request with several events for one contact, in this order: (type, sender's id)."""
    now = timezone.now()
    return ingest_events(
        workspace().pk,
        [
            IncomingEvent(
                type=kind,
                contact=ContactRef(email="buyer@example.com"),
                data={},
                occurred_at=now,
                client_id=client_id,
            )
            for kind, client_id in events
        ],
    )


@pytest.mark.django_db
def test_an_order_sent_after_its_cart_in_one_batch_is_received():
    cart_flow()
    # The sender's ids sort the other way round from the order they were sent in.
    send_batch(("cart_created", "z-cart"), ("order_placed", "a-order"))

    run = advance(Run.objects.get())

    assert path_of(run) == ["start", "wait", "bought"]


@pytest.mark.django_db
def test_an_order_sent_before_its_cart_in_one_batch_is_not_the_runs():
    cart_flow()
    send_batch(("order_placed", "z-order"), ("cart_created", "a-cart"))

    run = advance(Run.objects.get())

    assert run.status == RunStatus.WAITING
    assert run.waiting_for == "order_placed"


@pytest.mark.django_db
def test_the_exit_event_ends_a_run_whatever_the_senders_clock():
    cart_flow(exit_when={"event": "unsubscribed"})
    cart_time = timezone.now() - timedelta(seconds=5)
    send("cart_created", "buyer@example.com", occurred_at=cart_time)
    run = advance(Run.objects.get())
    assert run.status == RunStatus.WAITING

    send("unsubscribed", "buyer@example.com", occurred_at=cart_time - timedelta(seconds=1))

    run.refresh_from_db()
    assert run.status == RunStatus.EXITED


@pytest.mark.django_db
def test_an_exit_event_sent_after_the_trigger_in_one_batch_ends_the_running_run():
    cart_flow(exit_when={"event": "unsubscribed"})
    send_batch(("cart_created", "z-cart"), ("unsubscribed", "a-unsub"))

    run = advance(Run.objects.get())

    assert run.status == RunStatus.EXITED
    assert path_of(run) == []


@pytest.mark.django_db
def test_an_exit_event_from_before_the_enrolment_does_not_end_the_run():
    cart_flow(exit_when={"event": "unsubscribed"})
    send_batch(("unsubscribed", "z-unsub"), ("cart_created", "a-cart"))

    run = advance(Run.objects.get())

    assert run.status == RunStatus.WAITING
