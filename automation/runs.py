"""Operations on one run: retry from the failed step, cancel. Each is compare-and-set."""

from __future__ import annotations

from django.db import transaction

from . import transitions
from .dispatch import enqueue_runs
from .models import ACTIVE_RUN_STATUSES, Run


class RunStateError(Exception):
    """The run is not in a state this operation accepts."""


def retry_run(run: Run) -> Run:
    """failed → running, from the step that failed, with a fresh set of attempts."""
    with transaction.atomic():
        try:
            retried = transitions.retry(run.pk)
        except transitions.TransitionRefused:
            status = Run.objects.values_list("status", flat=True).get(pk=run.pk)
            raise RunStateError(f"only a failed run can be retried; this one is {status}") from None
        enqueue_runs([retried.pk])
    return retried


def cancel_run(run: Run, *, reason: str = "cancelled by a user") -> Run:
    """running/waiting → cancelled. A worker holding the run finishes its step first."""
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.status not in transitions.ACCEPTS["cancel"]:
            raise RunStateError(
                f"only a running or waiting run can be cancelled; this one is {locked.status}"
            )
        transitions.cancel_runs(Run.objects.filter(pk=locked.pk), reason)
        locked.refresh_from_db()
    return locked


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
            cancelled += transitions.cancel_runs(Run.objects.filter(pk__in=ids), reason)
        if len(ids) < CANCEL_BATCH:
            return cancelled
