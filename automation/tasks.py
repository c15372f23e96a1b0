"""Celery tasks: ids in, a service call, nothing else."""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timedelta

from billiard.exceptions import SoftTimeLimitExceeded
from billiard.process import current_process
from celery import shared_task
from celery.signals import task_prerun
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from config import dependency_log
from config.redis_clients import redis_client

from . import engine, pending_events, runs, schedules, timers, transitions
from .dispatch import DEFAULT_PRIORITY, PRIORITIES, by_priority
from .leases import Leases
from .models import Run
from .reconnect import reconnecting

log = logging.getLogger("cairn.tasks")

# Set in a pool child when its worker is asked to stop (warm shutdown).
_stopping = threading.Event()


@task_prerun.connect
def _finish_the_run_in_hand_on_sigterm(**_kwargs) -> None:
    """A warm shutdown signals the pool's children too (honcho and systemd signal
    the whole process group). A child then finishes the run in hand, hands
    the rest of its message back and exits, instead of dying mid-step.

    Installed before each task, in the child: billiard installs its own
    SIGTERM handler (exit at once) after worker_process_init has run.
    """
    _stopping.clear()  # a stray SIGTERM affects one message, never the next
    in_pool_child = current_process().name != "MainProcess"  # never a solo worker's own
    if in_pool_child and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_after_this_run)


def _stop_after_this_run(_signum, _frame) -> None:
    _stopping.set()


@shared_task(name="automation.advance_run", acks_late=True, reject_on_worker_lost=True)
def advance_run_task(run_id: str) -> str:
    reconnecting(transitions.take, [run_id])
    with Leases([run_id]):
        return engine.advance_run(run_id).value


@shared_task(name="automation.advance_runs", acks_late=True, reject_on_worker_lost=True)
def advance_runs_task(run_ids: list[str]) -> None:
    """Advance several runs: first together, as far as they go without an
    outside call (engine.advance_together), then each that has more to do.

    The worker takes the message's runs at once (a lease it renews while the
    message lasts), so a run later in the message never looks abandoned, and
    a worker killed anywhere in it leaves leases that lapse within seconds.
    One run's unexpected error does not hold up the others: it stays taken
    and the reaper re-queues it when its lease lapses. The soft time limit
    or a warm shutdown stops the message: the runs not reached yet are handed
    back to the queue at once rather than left for the reaper (and a hard
    kill would acknowledge them with the message); so does a message whose
    runs one by one have taken MESSAGE_SLICE_SECONDS.
    """
    reconnecting(transitions.take, run_ids)
    slice_ends = time.monotonic() + MESSAGE_SLICE_SECONDS
    with Leases(run_ids) as leases:
        # As far as they go together first (one transaction), then one by one.
        try:
            done = engine.advance_together(run_ids)
        except SoftTimeLimitExceeded:
            log.warning("advancing %d runs together hit the soft time limit", len(run_ids))
            hand_back(run_ids)  # that transaction rolled back: none of them moved
            return
        for index, run_id in enumerate(run_ids):
            if run_id in done:
                leases.done(run_id)
                continue
            if _stopping.is_set() or time.monotonic() > slice_ends:
                # Slow runs (a slow endpoint, a template near its budget) never
                # keep this process from the queues for long: the rest go to the
                # back of their queue, and the drain or a high-priority run
                # waiting meanwhile gets this process first.
                hand_back(run_ids[index:])
                return
            try:
                engine.advance_run(run_id)
            except SoftTimeLimitExceeded:
                # The run in hand keeps its lease: its open attempt is the reaper's.
                log.warning("advancing %s hit the soft time limit; handing the rest back", run_id)
                hand_back(run_ids[index + 1 :])
                return
            except Exception:
                log.exception("advancing run %s failed; the reaper will retry it", run_id)
                continue
            leases.done(run_id)


# One message's runs, advanced one by one, hand the rest back after this long.
MESSAGE_SLICE_SECONDS = 1.0


def hand_back(run_ids: list[str]) -> None:
    """Queue runs again, as messages of their own, each at its workflow's priority
    (or, when the database cannot say, on the queue the message came from)."""
    if not run_ids:
        return
    try:
        reconnecting(transitions.requeue, Run.objects.filter(pk__in=run_ids))
        groups = by_priority(list(run_ids))
    except DatabaseError:
        # Still taken: if this message is lost too, their leases lapse and the reaper has them.
        delivery = advance_runs_task.request.delivery_info or {}
        groups = {delivery.get("routing_key") or DEFAULT_PRIORITY: list(run_ids)}
    for priority, group in groups.items():
        submit(group, priority)


# Runs per Celery message: sending one message per run cost more than
# ingesting the events. A message's runs advance together, in one transaction
# (engine.advance_together), so a big group (a burst of events, a timer sweep)
# goes in fewer, bigger messages, cheaper per run and smaller in Redis, still
# eight or more of them to spread over the workers.
MIN_RUNS_PER_MESSAGE = 10
MAX_RUNS_PER_MESSAGE = 50


def runs_per_message(count: int) -> int:
    return max(MIN_RUNS_PER_MESSAGE, min(MAX_RUNS_PER_MESSAGE, count // 8))


def submit(run_ids: list[str], priority: str = DEFAULT_PRIORITY) -> None:
    """The executor's side of dispatch.enqueue_runs (called after commit): the
    runs go to the Celery queue named by their priority (high, normal, low).

    A broker that cannot be reached loses nothing: the runs are stored as
    queued, and beat's lost-message check queues them again once Redis
    answers. So the request or task that committed them does not fail for it
    (before, the API answered 500 for events it had stored)."""
    size = runs_per_message(len(run_ids))
    try:
        for start in range(0, len(run_ids), size):
            advance_runs_task.apply_async(args=[run_ids[start : start + size]], queue=priority)
    except (KombuOperationalError, RedisError, OSError) as error:
        dependency_log.failed(
            "redis", "could not queue runs; the lost-message check queues them later", error
        )


# Messages a priority's queue holds before the sweep stops queueing released
# runs into it (dispatch.dispatch_released): about 2,000 runs, several
# seconds of work for the workers, a few MiB of Redis.
QUEUE_BOUND_MESSAGES = 40


def room(priority: str) -> int:
    """Runs the queue of `priority` takes now: up to QUEUE_BOUND_MESSAGES messages.
    A broker that cannot say gets a sweep's worth."""
    try:
        depth = redis_client(settings.CELERY_BROKER_URL).llen(priority)
    except Exception as error:
        dependency_log.failed("redis", "could not read the depths of the run queues", error)
        return timers.SWEEP_BATCH
    return max(0, QUEUE_BOUND_MESSAGES - depth) * MAX_RUNS_PER_MESSAGE


def submit_cleanup(workflow_id: str) -> None:
    cancel_workflow_runs.delay(workflow_id)


# The housekeeping queue (config/celery.py): workers take it before any run,
# so timers, the reaper and schedules never wait behind a backlog of runs.


@shared_task(name="automation.sweep_due_runs", ignore_result=True, expires=5)
def sweep_due_runs() -> int:
    return timers.sweep_due_runs()


@shared_task(name="automation.reap_stale_runs", ignore_result=True, expires=30)
def reap_stale_runs() -> int:
    return timers.reap_stale_runs()


# A run queued this long before a lost-message check was sent and still not
# taken when the check is taken is lost, not in a worker's prefetch.
LOST_MESSAGE_GRACE_SECONDS = 10


@shared_task(name="automation.send_lost_message_checks", ignore_result=True, expires=60)
def send_lost_message_checks() -> None:
    """Send a lost-message check down each priority's queue, behind what is queued there."""
    queued_before = timezone.now() - timedelta(seconds=LOST_MESSAGE_GRACE_SECONDS)
    for priority in PRIORITIES:
        requeue_lost_messages.apply_async(
            args=[priority, queued_before.isoformat()], queue=priority
        )


@shared_task(name="automation.requeue_lost_messages", ignore_result=True)
def requeue_lost_messages(priority: str, queued_before: str) -> int:
    """Never expires: it must reach the front of its queue, however long that takes."""
    return timers.requeue_lost_messages(priority, datetime.fromisoformat(queued_before))


@shared_task(name="automation.fire_schedules", ignore_result=True, expires=30)
def fire_schedules() -> int:
    return schedules.fire_due_schedules()


@shared_task(name="automation.check_inactivity", ignore_result=True, expires=600)
def check_inactivity() -> int:
    return schedules.enrol_inactive_contacts()


@shared_task(name="automation.cancel_workflow_runs", acks_late=True, reject_on_worker_lost=True)
def cancel_workflow_runs(workflow_id: str) -> int:
    return runs.cancel_workflow_runs(workflow_id)


@shared_task(
    name=pending_events.TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def drain_events() -> int:
    """Ingest pending events (automation/pending_events.py) in batches, oldest first.

    One drain message is in flight at a time: the kick flag says one is
    queued or draining. A drain that finds another draining ends at once (it
    must not queue another: under load that multiplied the drain messages
    until runs starved behind them); the one draining clears the flag when
    it has nothing left and looks once more, so no event stored meanwhile
    waits for beat.
    """
    result = pending_events.drain()
    if result.busy:
        return 0
    if result.more:
        pending_events.kick(countdown=0, again=True)
    else:
        pending_events.settle()
    return result.ingested
