"""Celery's limits and duplicates as the tasks meet them.

Invariants: a duplicate delivery of a run that another worker holds skips
it at once (it never queues behind the row lock); a task's soft time limit
is never mistaken for the node failing (no retry is recorded, the attempt
stays open for the reaper) and stops a many-run message, handing the runs
it did not reach back to the queue.
"""

import signal
import threading

import pytest
from billiard.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction

from automation import tasks
from automation.engine import Outcome, advance_run
from automation.models import Run, RunStatus, Step, StepStatus
from tests.automation.workflows import chain, graph, node, published, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _runs_stay_with_the_test(settings):
    # Queued runs go to the embedded executor's queue, which no thread serves
    # here: a Celery worker left running by other tests never takes them, so
    # this test is the only one advancing them.
    settings.CAIRN_EXECUTION = "embedded"


def tag_flow():
    start = node("start", "trigger.event", event="signup")
    tag = node("tag", "action.tag", add=["t"])
    return published(graph([start, tag], chain(start, tag)))


def test_a_duplicate_delivery_skips_a_run_another_worker_holds():
    tag_flow()
    send("signup", "ada@example.com")
    run = Run.objects.get()
    locked, release = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                Run.objects.select_for_update().get(pk=run.pk)
                locked.set()
                release.wait(20)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(10)
    outcome = []
    delivery = threading.Thread(
        target=lambda: (outcome.append(advance_run(run.pk)), connection.close())
    )
    delivery.start()
    delivery.join(timeout=5)
    blocked = delivery.is_alive()
    release.set()
    thread.join()
    delivery.join()

    assert not blocked, "the duplicate delivery waited behind the row lock"
    assert outcome == [Outcome.BUSY]
    assert advance_run(run.pk) is Outcome.COMPLETED  # once free, it runs


class soft_time_limit:
    """Raise SoftTimeLimitExceeded in this thread after `seconds`, as billiard does in a child."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __enter__(self):
        def expire(signum, frame):
            raise SoftTimeLimitExceeded()

        self.previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)


def slow_hook_flow(url):
    start = node("start", "trigger.event", event="order_placed")
    hook = node("hook", "action.webhook", method="POST", url=url)
    return published(graph([start, hook], chain(start, hook)))


def test_a_soft_time_limit_during_a_call_is_not_taken_for_a_node_failure(http_target):
    http_target.answer(delay=3)
    slow_hook_flow(f"{http_target.url}/slow")
    send("order_placed", "ada@example.com")
    run = Run.objects.get()

    with pytest.raises(SoftTimeLimitExceeded), soft_time_limit(1):
        advance_run(run.pk)

    step = Step.objects.get(node_id="hook")
    assert (step.status, step.attempt, step.error) == (StepStatus.RUNNING, 1, "")
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING


def test_a_soft_time_limit_stops_a_many_run_message_and_hands_the_rest_back(
    http_target, monkeypatch
):
    http_target.answer(delay=3)
    slow_hook_flow(f"{http_target.url}/slow")
    for n in range(3):
        send("order_placed", f"user{n}@example.com")
    ids = [str(pk) for pk in Run.objects.order_by("created_at").values_list("pk", flat=True)]
    handed_back = []
    monkeypatch.setattr(tasks, "hand_back", handed_back.extend)

    with soft_time_limit(1):
        tasks.advance_runs_task(ids)

    assert handed_back == ids[1:]
    assert len(http_target.requests) == 1  # the other two were not started here
