"""Operations on one run: retry from the failed step, cancel. Each is compare-and-set."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .dispatch import enqueue_runs
from .models import ACTIVE_RUN_STATUSES, Run, RunStatus, Step, StepStatus


class RunStateError(Exception):
    """The run is not in a state this operation accepts."""


def retry_run(run: Run) -> Run:
    """failed → running, from the step that failed, with a fresh set of attempts."""
    with transaction.atomic():
        locked = (
            Run.objects.select_for_update(of=("self",))
            .select_related("current_step")
            .get(pk=run.pk)
        )
        if locked.status != RunStatus.FAILED:
            raise RunStateError(f"only a failed run can be retried; this one is {locked.status}")
        locked.status = RunStatus.RUNNING
        locked.retry_floor = locked.current_step.attempt if locked.current_step else 0
        locked.error = ""
        locked.finished_at = None
        locked.lease_until = timezone.now() + timedelta(seconds=settings.RUN_LEASE_SECONDS)
        locked.save()
        enqueue_runs([locked.pk])
    return locked


def cancel_run(run: Run, *, reason: str = "cancelled by a user") -> Run:
    """running/waiting → cancelled. A worker holding the run finishes its step first."""
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.status not in ACTIVE_RUN_STATUSES:
            raise RunStateError(
                f"only a running or waiting run can be cancelled; this one is {locked.status}"
            )
        end_runs(Run.objects.filter(pk=locked.pk), status=RunStatus.CANCELLED, reason=reason)
        locked.refresh_from_db()
    return locked


def end_runs(runs, *, status: str, reason: str) -> int:
    """End every active run in `runs` (a queryset) as cancelled or exited, closing open steps."""
    now = timezone.now()
    active = runs.filter(status__in=ACTIVE_RUN_STATUSES)
    Step.objects.filter(
        run__in=active, status__in=(StepStatus.WAITING, StepStatus.RETRYING, StepStatus.RUNNING)
    ).update(status=StepStatus.CANCELLED, finished_at=now)
    return active.update(
        status=status,
        error=reason,
        finished_at=now,
        resume_at=None,
        waiting_for="",
        lease_until=None,
        updated_at=now,
    )


CANCEL_BATCH = 1000


def cancel_workflow_runs(workflow_id, *, reason: str = "the workflow was archived") -> int:
    """Cancel a workflow's runs still in flight, CANCEL_BATCH at a time, each page
    its own transaction (archiving answers at once and leaves this to a worker).

    A run a worker holds right now is skipped: its next chunk finds the
    workflow archived and cancels itself.
    """
    cancelled = 0
    while True:
        with transaction.atomic():
            ids = list(
                Run.objects.filter(
                    workflow_id=workflow_id, status__in=ACTIVE_RUN_STATUSES, is_preview=False
                )
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:CANCEL_BATCH]
            )
            if not ids:
                return cancelled
            cancelled += end_runs(Run.objects.filter(pk__in=ids), status=RunStatus.CANCELLED,
                                  reason=reason)  # fmt: skip
        if len(ids) < CANCEL_BATCH:
            return cancelled
