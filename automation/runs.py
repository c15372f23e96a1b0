"""Operations on runs: retry from the failed step, cancel, and the dead letters
(failed runs, retried or discarded in bulk). Each is compare-and-set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from . import transitions
from .dispatch import enqueue_runs
from .models import ACTIVE_RUN_STATUSES, Run, RunStatus


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


# ---------------------------------------------------------------- dead letters

# Runs one bulk retry or discard may name.
DEAD_LETTER_BATCH = 1000


def dead_letters(workspace_id=None) -> QuerySet:
    """Runs that failed after their retries (previews aside), the latest failure first;
    of one workspace, or of all (workspace_id None: the admin's operators)."""
    runs = Run.objects.filter(status=RunStatus.FAILED, is_preview=False)
    if workspace_id is not None:
        runs = runs.filter(workspace_id=workspace_id)
    return runs.order_by("-finished_at", "-pk")


class DeadLetterError(Exception):
    """A run named in a bulk operation is not one of the workspace's dead letters."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class BulkResult:
    runs: list[str]


def retry_dead_letters(workspace_id, run_ids: Sequence) -> BulkResult:
    """Retry each named dead letter from the step that failed (as retry_run does),
    all or none: a run that is not a failed run of this workspace refuses the lot."""
    with transaction.atomic():
        ids = _lock_dead_letters(workspace_id, run_ids)
        for run_id in ids:
            transitions.retry(run_id)
        enqueue_runs(ids)
    return BulkResult(runs=[str(run_id) for run_id in ids])


def discard_dead_letters(workspace_id, run_ids: Sequence, *, by: str = "") -> BulkResult:
    """Give up on the named dead letters (failed → cancelled, transitions.discard),
    all or none, as retry_dead_letters."""
    when = timezone.now().strftime("%Y-%m-%d %H:%M UTC")
    note = f"{when} by {by}" if by else when
    with transaction.atomic():
        ids = _lock_dead_letters(workspace_id, run_ids)
        transitions.discard(Run.objects.filter(pk__in=ids), note)
    return BulkResult(runs=[str(run_id) for run_id in ids])


def _lock_dead_letters(workspace_id, run_ids: Sequence) -> list:
    """Lock the named runs (in id order, the global lock order) and check each is a
    failed run of this workspace; the first that is not raises DeadLetterError."""
    wanted = list(dict.fromkeys(str(run_id) for run_id in run_ids))
    runs = Run.objects.filter(pk__in=wanted)
    if workspace_id is not None:
        runs = runs.filter(workspace_id=workspace_id)
    found = {
        str(pk): (status, is_preview)
        for pk, status, is_preview in runs.order_by("pk")
        .select_for_update()
        .values_list("pk", "status", "is_preview")
    }
    positions = {run_id: index for index, run_id in reversed(list(enumerate(map(str, run_ids))))}
    for run_id in wanted:
        if run_id not in found or found[run_id][1]:
            raise DeadLetterError(positions[run_id], f"no run {run_id} in this workspace")
        if found[run_id][0] != RunStatus.FAILED:
            raise DeadLetterError(
                positions[run_id], f"run {run_id} is {found[run_id][0]}, not failed"
            )
    return sorted(wanted)


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
