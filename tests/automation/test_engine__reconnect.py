"""A worker whose database connection is cut reconnects and goes on.

Invariants: a run whose connection dies under it (PostgreSQL restarted,
`pg_terminate_backend`) is advanced on a fresh connection by the same worker,
at once, not left for the reaper; a call already made when the connection
died is recorded, not made again; nothing is written twice.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from automation.engine import Outcome, advance_run
from automation.models import Run, RunStatus, Step
from tests.automation.workflows import chain, graph, node, path_of, published
from tests.builder.factories import RunFactory
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid: int) -> None:
    """Cut a backend from outside, as a restart or a failover would."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname=settings["NAME"]
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def queued_run(workflow) -> Run:
    """A run as enrolment leaves it, with no message sent: this test is its worker."""
    return RunFactory(workflow=workflow, current_node="start", queued_at=timezone.now())


def test_a_run_goes_on_when_its_connection_was_cut_before_the_chunk():
    start = node("start", "trigger.event", event="signup")
    tag = node("tag", "action.tag", add=["welcomed"])
    run = queued_run(published(graph([start, tag], chain(start, tag))))

    terminate(backend_pid())

    assert advance_run(run.pk) is Outcome.COMPLETED
    assert path_of(run) == ["start", "tag"]
    assert Step.objects.filter(run=run).count() == 2


def test_a_call_made_before_the_cut_is_recorded_on_the_new_connection_not_made_again(
    http_target,
):
    start = node("start", "trigger.event", event="order_placed")
    hook = node("hook", "action.webhook", method="POST", url=f"{http_target.url}/sink")
    done = node("done", "action.tag", add=["synced"])
    run = queued_run(published(graph([start, hook, done], chain(start, hook, done))))
    http_target.answer(delay=1.5)
    worker: dict = {}

    def work() -> None:
        worker["pid"] = backend_pid()
        worker["outcome"] = advance_run(run.pk)
        connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    wait_until(lambda: http_target.requests, what="the webhook call starts")
    terminate(worker["pid"])  # while the call is in flight, no lock held
    thread.join(timeout=30)

    assert worker["outcome"] is Outcome.COMPLETED
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert path_of(run) == ["start", "hook", "done"]
    assert len(http_target.requests) == 1
    hook_step = Step.objects.get(run=run, node_id="hook")
    assert hook_step.attempt == 1
    assert hook_step.output["status"] == 200
