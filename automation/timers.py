"""Durable timers: waits never sleep in a worker, they are rows with a due time.

Beat calls these every few seconds. Each claims its rows with
`SELECT … FOR UPDATE SKIP LOCKED` and a compare-and-set on status, so several
beats or sweeps running at once never wake a run twice.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import transitions
from .dispatch import at_priority, dispatch_released, enqueue_runs
from .models import Deployment, DeploymentStatus, Run, RunStatus, Step, StepStatus

SWEEP_BATCH = 1000


def _active_workflows():
    return Deployment.objects.filter(status=DeploymentStatus.ACTIVE).values("pk")


def hot_path() -> Q:
    """Waiting runs the sweep may wake: not held by a paused workflow.

    Runs of a paused workflow are marked `held` (deployments.set_deployment_status),
    which takes them out of the sweep's partial index: a million paused runs
    cost the every-second sweep nothing.
    """
    return Q(held=False)


def wake_runs(run_filter: Q, *, limit: int = SWEEP_BATCH, queue: bool = True) -> int:
    """Move waiting runs matching `run_filter` (of active workflows) to running and
    queue them (`queue`), or only release them (dispatch.dispatch_released
    queues them as their queue has room).

    The longest due go first (never the model's newest-first ordering).
    """
    with transaction.atomic():
        ids = list(
            Run.objects.filter(run_filter, hot_path(), status=RunStatus.WAITING)
            .filter(Q(is_preview=True) | Q(workflow_id__in=_active_workflows()))
            .order_by("resume_at", "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0
        woken = transitions.wake(Run.objects.filter(pk__in=ids), queued=queue)
        if queue:
            enqueue_runs(ids)
    return woken


def sweep_due_runs() -> int:
    """Wake every run whose timer (delay, timeout, retry backoff, hold) is due.

    Due runs are released at once (waiting → running, set-based), then
    queued as far as their queue has room (dispatch.dispatch_released): when
    200,000 timers fall due in a minute, they wait their turn in PostgreSQL,
    not as messages in Redis. The sweep runs every second, so the rest go
    as workers free up. Queued runs hold no lease: no reaper mistakes their
    wait for a dead worker.
    """
    total = 0
    while True:
        woken = wake_runs(Q(resume_at__lte=timezone.now()), queue=False)
        total += woken
        if woken < SWEEP_BATCH:
            break
    dispatch_released()
    return total


def reap_stale_runs() -> int:
    """Re-queue runs whose worker died: taken, and the lease lapsed.

    Only a worker takes a lease and renews it while it works on a run, so a
    lapsed lease means a dead worker, never a long queue: the reaper runs
    ahead of every queue (the housekeeping queue) and picks a dead worker's
    runs up within seconds. An outside call that was in flight when its
    worker died left its step `running`: that attempt is declared lost
    (counted, kept as `retrying` with why), so the next delivery decides
    whether attempts are left.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Run.objects.filter(status=RunStatus.RUNNING, lease_until__lt=now)
            .order_by("lease_until")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        Step.objects.filter(
            pk__in=Run.objects.filter(pk__in=ids).values("current_step_id"),
            status=StepStatus.RUNNING,
        ).update(
            status=StepStatus.RETRYING,
            error="the worker was lost during this attempt (its lease ran out)",
            finished_at=now,
        )
        transitions.requeue(Run.objects.filter(pk__in=ids))
        enqueue_runs(ids)
    return len(ids)


def requeue_lost_messages(priority: str | None, queued_before: datetime) -> int:
    """Re-queue runs whose message was lost: queued before `queued_before` and
    still not taken by any worker.

    Celery sends this through the priority's own queue, stamped with when it
    was sent: by the time it is taken, every message queued ahead of it has
    been taken too, so a run queued before it that no worker took has no
    message left (a broker or worker process lost it). With no `priority`,
    every run (the embedded executor, at start: its queue lived in memory).
    """
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                Run.objects.filter(
                    status=RunStatus.RUNNING,
                    lease_until__isnull=True,
                    queued_at__lt=queued_before,
                )
                .filter(at_priority(priority))
                .order_by("queued_at")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:SWEEP_BATCH]
            )
            transitions.requeue(Run.objects.filter(pk__in=ids))
            enqueue_runs(ids)
        total += len(ids)
        if len(ids) < SWEEP_BATCH:
            return total
