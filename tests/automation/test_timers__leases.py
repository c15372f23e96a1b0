"""Queued and taken runs: what the reaper and the lost-message check re-queue.

Invariants: a run waiting in a queue holds no lease, however long it has
waited, so the reaper never queues it twice; a run whose worker's lease
lapsed is re-queued whatever its priority, its call in flight declared lost;
a lost-message check re-queues only the runs of its priority queued before
it was sent and never taken; the timer sweep queues runs, it never takes them.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from automation import timers, transitions
from automation.models import Run, RunStatus, StepStatus
from tests.automation.workflows import locked_by_another_worker
from tests.builder.factories import RunFactory, StepFactory, WorkspaceFactory, published_workflow

pytestmark = pytest.mark.django_db


def queued_again(run: Run, since) -> bool:
    run.refresh_from_db()
    return run.status == RunStatus.RUNNING and run.lease_until is None and run.queued_at >= since


def test_the_reaper_requeues_lapsed_leases_of_every_priority_and_never_a_queued_run(
    django_capture_on_commit_callbacks,
):
    workspace = WorkspaceFactory()
    now = timezone.now()
    lapsed = {
        priority: RunFactory(
            workflow=published_workflow(workspace, priority=priority),
            lease_until=now - timedelta(seconds=1),
        )
        for priority in ("high", "normal", "low")
    }
    in_call = StepFactory(run=lapsed["normal"], status=StepStatus.RUNNING, attempt=1)
    Run.objects.filter(pk=lapsed["normal"].pk).update(current_step=in_call)
    # An hour in a long queue, never taken: not the reaper's.
    long_queued = RunFactory(workflow=lapsed["low"].workflow, queued_at=now - timedelta(hours=1))
    # Taken by a live worker.
    held = RunFactory(workflow=lapsed["low"].workflow, lease_until=now + timedelta(seconds=20))

    with django_capture_on_commit_callbacks() as sent:
        assert timers.reap_stale_runs() == 3

    assert all(queued_again(run, now) for run in lapsed.values())
    assert len(sent) == 3  # one message per priority
    in_call.refresh_from_db()
    assert in_call.status == StepStatus.RETRYING
    assert "lost" in in_call.error
    long_queued.refresh_from_db()
    assert long_queued.queued_at < now and long_queued.lease_until is None
    held.refresh_from_db()
    assert held.lease_until > now
    assert timers.reap_stale_runs() == 0


def test_a_lost_message_check_requeues_its_prioritys_runs_queued_before_it_and_not_taken():
    workspace = WorkspaceFactory()
    low = published_workflow(workspace, priority="low")
    high = published_workflow(workspace, priority="high")
    now = timezone.now()
    sent_at = now - timedelta(seconds=10)
    lost = RunFactory(workflow=low, queued_at=now - timedelta(minutes=5))
    queued_after = RunFactory(workflow=low, queued_at=now)  # behind the check: its message comes
    taken = RunFactory(
        workflow=low, queued_at=now - timedelta(minutes=5), lease_until=now + timedelta(seconds=20)
    )
    other_priority = RunFactory(workflow=high, queued_at=now - timedelta(minutes=5))
    waiting = RunFactory(
        workflow=low, status=RunStatus.WAITING, queued_at=now - timedelta(minutes=5)
    )

    assert timers.requeue_lost_messages("low", sent_at) == 1

    assert queued_again(lost, now)
    for run, before in [(queued_after, now), (other_priority, sent_at)]:
        run.refresh_from_db()
        assert run.queued_at <= before
    taken.refresh_from_db()
    waiting.refresh_from_db()
    assert taken.lease_until is not None and waiting.status == RunStatus.WAITING
    # Queued again now, so the same check finds nothing more.
    assert timers.requeue_lost_messages("low", sent_at) == 0
    # The embedded executor, at start: every priority.
    assert timers.requeue_lost_messages(None, now) == 1
    assert queued_again(other_priority, now)


def test_a_worker_takes_queued_runs_renews_its_own_and_hands_them_back():
    now = timezone.now()
    queued = RunFactory(queued_at=now)
    elsewhere = RunFactory(lease_until=now + timedelta(seconds=3))  # another worker's

    assert transitions.take([queued.pk, elsewhere.pk]) == 1
    queued.refresh_from_db()
    elsewhere.refresh_from_db()
    assert queued.lease_until > now + timedelta(seconds=10)
    assert elsewhere.lease_until < now + timedelta(seconds=4)

    assert transitions.requeue(Run.objects.filter(pk=queued.pk)) == 1
    assert queued_again(queued, now)
    assert transitions.renew([queued.pk]) == 0  # handed back: nobody's to renew


@pytest.mark.django_db(transaction=True)
def test_a_worker_renews_its_runs_leases_from_its_heartbeat_thread_skipping_locked_ones(
    settings,
):
    from django.db import connection

    from automation.leases import Leases

    settings.RUN_LEASE_SECONDS = 2  # a beat every half second
    now = timezone.now()
    soon = now + timedelta(seconds=2)
    mine = [RunFactory(lease_until=soon) for _ in range(3)]
    ids = [str(run.pk) for run in mine]

    with locked_by_another_worker(mine[0].pk):  # its chunk is being written
        assert transitions.renew(ids[:2]) == 1  # never waits for the locked one

    leases = Leases(ids)
    leases.done(ids[2])  # finished by the message: no longer renewed
    with leases:
        time.sleep(1.2)
    connection.close()
    renewed = {str(run.pk): run.lease_until for run in Run.objects.filter(pk__in=ids)}
    assert renewed[ids[0]] > soon and renewed[ids[1]] > soon
    assert renewed[ids[2]] == soon


def test_the_timer_sweep_queues_due_runs_of_every_priority_without_taking_them():
    workspace = WorkspaceFactory()
    due = timezone.now() - timedelta(seconds=1)
    runs = [
        RunFactory(
            workflow=published_workflow(workspace, priority=priority),
            status=RunStatus.WAITING,
            resume_at=due,
        )
        for priority in ("high", "normal", "low")
    ]

    assert timers.sweep_due_runs() == 3

    assert all(queued_again(run, due) for run in runs)


def test_due_runs_beyond_their_queues_room_are_released_and_queued_as_room_frees(monkeypatch):
    from automation import tasks

    workspace = WorkspaceFactory()
    due = timezone.now() - timedelta(seconds=1)
    workflow = published_workflow(workspace, priority="normal")
    runs = [
        RunFactory(workflow=workflow, status=RunStatus.WAITING, resume_at=due) for _ in range(3)
    ]

    monkeypatch.setattr(tasks, "QUEUE_BOUND_MESSAGES", 0)  # the queue is full
    assert timers.sweep_due_runs() == 3

    for run in runs:  # released: running at once, waiting in PostgreSQL for room
        run.refresh_from_db()
        assert run.status == RunStatus.RUNNING
        assert run.queued_at is None and run.lease_until is None
    assert timers.reap_stale_runs() == 0
    assert timers.requeue_lost_messages("normal", timezone.now()) == 0

    monkeypatch.setattr(tasks, "QUEUE_BOUND_MESSAGES", 40)  # the workers caught up
    assert timers.sweep_due_runs() == 0  # nothing new is due; the released ones go
    assert all(queued_again(run, due) for run in runs)


def test_a_queues_room_is_what_its_bound_leaves_free():
    import redis
    from django.conf import settings

    from automation import tasks

    queue = "cairn-test-room"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(queue)
    client.rpush(queue, "a", "b", "c")
    try:
        assert tasks.room(queue) == (tasks.QUEUE_BOUND_MESSAGES - 3) * tasks.MAX_RUNS_PER_MESSAGE
    finally:
        client.delete(queue)
