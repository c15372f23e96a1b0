"""Outside calls are made with no lock held, after their attempt is committed.

Invariants: while a webhook or email call is in flight, the run's and the
contact's rows are free (events for the contact, cancel, batches do not
wait for it); the visit's step is already committed as `running` with its
attempt counted; the answer is recorded only if that attempt is still the
run's open one (compare-and-set), so a cancel during the call wins; a
worker killed mid-call costs one attempt, and the next attempt carries the
same idempotency key.
"""

import os
import re
import signal
import subprocess
import time

import pytest
from django.db import OperationalError, connection, transaction

from automation import timers
from automation.models import Contact, Run, RunStatus, Step, StepStatus
from automation.runs import cancel_run
from tests.automation.workflows import chain, graph, node, path_of, published, send
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def hook_flow(url):
    start = node("start", "trigger.event", event="order_placed")
    hook = node("hook", "action.webhook", method="POST", url=url, body={"n": 1})
    done = node("done", "action.tag", add=["synced"])
    return published(graph([start, hook, done], chain(start, hook, done)))


def call_in_flight(http_target) -> Step:
    wait_until(lambda: http_target.requests, what="the webhook call starts")
    return Step.objects.get(node_id="hook")


def rows_are_free(*rows) -> bool:
    """Whether each row can be locked at once (FOR UPDATE NOWAIT), i.e. nobody holds it."""
    try:
        with transaction.atomic():
            for model, pk in rows:
                model.objects.select_for_update(nowait=True).get(pk=pk)
    except OperationalError:
        return False
    finally:
        connection.close()
    return True


def test_no_row_lock_is_held_during_the_call_and_its_attempt_is_committed_first(http_target):
    http_target.answer(delay=3)
    hook_flow(f"{http_target.url}/crm")
    send("order_placed", "ada@example.com")
    run = Run.objects.get()

    step = call_in_flight(http_target)

    assert (step.status, step.attempt) == (StepStatus.RUNNING, 1)
    assert rows_are_free((Run, run.pk), (Contact, run.contact_id))
    # An event for the same contact is stored while the call is still in flight.
    send("order_placed", "ada@example.com", event_id="second")
    assert Step.objects.get(pk=step.pk).status == StepStatus.RUNNING
    wait_until(
        lambda: Run.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).exists(),
        what="the run completes",
    )
    assert path_of(run) == ["start", "hook", "done"]


def test_a_cancel_during_the_call_wins_over_its_answer(http_target):
    http_target.answer(delay=3)
    hook_flow(f"{http_target.url}/crm")
    send("order_placed", "ada@example.com")
    run = Run.objects.get()
    call_in_flight(http_target)

    cancel_run(run)  # does not wait for the call

    wait_until(
        lambda: Step.objects.filter(node_id="hook", status=StepStatus.CANCELLED).exists(),
        what="the open step is cancelled",
    )
    time.sleep(4)  # the call (3 s) has answered by now; its answer must change nothing
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert path_of(run) == ["start", "hook"]
    assert Step.objects.get(node_id="hook").status == StepStatus.CANCELLED


def caller_pid(port: int) -> int:
    """The process with an open connection to 127.0.0.1:port (the worker making the call)."""
    output = subprocess.run(
        ["ss", "-tnpH", f"dport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    pids = {int(pid) for pid in re.findall(r"pid=(\d+)", output)}
    assert len(pids) == 1, output
    return pids.pop()


def test_a_worker_killed_mid_call_costs_one_attempt_and_the_retry_carries_the_same_key(
    http_target,
):
    http_target.answer(delay=8)  # the call the killed worker never sees answered
    hook_flow(f"{http_target.url}/crm")
    send("order_placed", "ada@example.com")
    run = Run.objects.get()
    call_in_flight(http_target)
    port = int(http_target.url.rsplit(":", 1)[1])

    os.kill(caller_pid(port), signal.SIGKILL)

    wait_until(
        lambda: Run.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).exists(),
        timeout=60,
        what="the run completes on a new attempt after the worker died",
    )
    assert path_of(run) == ["start", "hook", "done"]  # one row for the visit
    hook = Step.objects.get(node_id="hook")
    assert hook.attempt == 2
    assert len(http_target.requests) == 2
    keys = {request["headers"]["idempotency-key"] for request in http_target.requests}
    assert keys == {f"{run.pk}:{hook.seq}"}


def test_a_call_longer_than_the_lease_is_not_declared_lost_while_it_is_made(http_target):
    # The worker runs with a 5 s lease. Without the heartbeat, the reaper
    # would declare a 9 s call lost at 5 s and make it a second time.
    http_target.answer(delay=9)  # under WEBHOOK_TIMEOUT_SECONDS (10)
    hook_flow(f"{http_target.url}/crm")
    send("order_placed", "ada@example.com")
    run = Run.objects.get()
    call_in_flight(http_target)
    time.sleep(6.5)  # past the lease the call started with

    assert timers.reap_stale_runs() == 0

    wait_until(
        lambda: Run.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).exists(),
        timeout=40,
        what="the run completes",
    )
    assert len(http_target.requests) == 1
    assert Step.objects.get(node_id="hook").attempt == 1
