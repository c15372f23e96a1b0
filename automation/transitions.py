"""Run status changes: the only code that writes `Run.status`.

Every change is a named transition that declares the states it accepts
(ACCEPTS) and is a compare-and-set, so a late or duplicate worker never
overwrites a newer state. They come in two kinds:

- On a run the caller holds locked — the engine's chunk, which always
  starts from `running`: `park`, `hold`, `complete`, `fail`, `exit`,
  `cancel` change the Run in memory (refusing a state they do not accept),
  and the chunk writes it with `save`, itself a compare-and-set on
  `running`: if anything else changed the row, nothing is written.
- Set-based, on runs nobody holds: `wake`, `retry`, `cancel_runs`,
  `exit_runs`, `discard` are one `UPDATE … WHERE status IN (<accepted>)`;
  a row in any other state is left alone and not counted.

Released, queued and taken: a `running` run the timer sweep woke is
released (no lease, no `queued_at`) until its priority's queue has room; it
is queued (no lease, `queued_at` says since when) until a worker takes it
(`take`: a lease the worker renews while it works); `requeue` hands it back
to the queue. A queue however long never makes a queued run look
abandoned: only a lease that lapsed does.

Why a redelivered task may re-enter a state: a Celery message can arrive
twice (acks_late, redelivery after a lost worker). Its chunk finds the run
`running` again only if the previous delivery's change never committed;
otherwise the run is `waiting`/finished and the delivery does nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from .models import Run, RunStatus, Step, StepStatus, writing_run_state

P = ParamSpec("P")
R = TypeVar("R")

RUNNING, WAITING = RunStatus.RUNNING, RunStatus.WAITING

# transition: (the states it accepts, the state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "park": ((RUNNING,), WAITING),
    "hold": ((RUNNING,), WAITING),
    "complete": ((RUNNING,), RunStatus.COMPLETED),
    "fail": ((RUNNING,), RunStatus.FAILED),
    "exit": ((RUNNING, WAITING), RunStatus.EXITED),
    "cancel": ((RUNNING, WAITING), RunStatus.CANCELLED),
    "wake": ((WAITING,), RUNNING),
    "retry": ((RunStatus.FAILED,), RUNNING),
    # A dead letter (failed after its retries) an operator gives up on.
    "discard": ((RunStatus.FAILED,), RunStatus.CANCELLED),
    # The workflow was paused / is live again: waiting runs stay waiting,
    # out of the sweep's index (held) or back in it.
    "hold_runs": ((WAITING,), WAITING),
    "release_runs": ((WAITING,), WAITING),
}
ACCEPTS = {name: accepted for name, (accepted, _target) in TRANSITIONS.items()}

OPEN_STEP_STATUSES = (StepStatus.RUNNING, StepStatus.RETRYING, StepStatus.WAITING)


def _writes_run_state(write: Callable[P, R]) -> Callable[P, R]:
    """The models refuse a run's status or `held` written anywhere but here."""

    @functools.wraps(write)
    def writing(*args: P.args, **kwargs: P.kwargs) -> R:
        with writing_run_state(write.__name__):
            return write(*args, **kwargs)

    return writing


class TransitionRefused(Exception):
    """The run is not in a state this transition accepts."""


def _move(run: Run, name: str) -> None:
    accepted, target = TRANSITIONS[name]
    if run.status not in accepted:
        raise TransitionRefused(
            f"{name}: a {run.status} run cannot be moved (accepts {', '.join(accepted)})"
        )
    run.status = target


def lease() -> datetime:
    return timezone.now() + timedelta(seconds=settings.RUN_LEASE_SECONDS)


# ---------------------------------------------------------------- queued and taken


def take(run_ids: list) -> int:
    """A worker takes these queued runs: a lease it renews while it works on them.

    Runs another worker holds keep their lease (a dead holder's must lapse for
    the reaper to declare its call lost); the engine works on them all the same.
    """
    return Run.objects.filter(pk__in=run_ids, status=RUNNING, lease_until__isnull=True).update(
        lease_until=lease()
    )


def renew(run_ids: list) -> int:
    """The worker working on these taken runs is alive: their leases go on.

    A run locked right now (its chunk is being written) is skipped, never
    waited for: waiting would hold the locks of the others meanwhile, and the
    worker would find its next run locked by its own heartbeat. The chunk
    renews the lease itself.
    """
    locked = (
        Run.objects.filter(pk__in=run_ids, status=RUNNING, lease_until__isnull=False)
        .order_by()
        .select_for_update(skip_locked=True)
        .values("pk")
    )
    with transaction.atomic():
        return Run.objects.filter(pk__in=locked).update(lease_until=lease())


def requeue(runs: QuerySet) -> int:
    """Taken (or lost) running runs go back to the queue: no lease, queued now."""
    return runs.filter(status=RUNNING).update(lease_until=None, queued_at=timezone.now())


# ---------------------------------------------------------------- on a locked run


def park(
    run: Run,
    *,
    step: Step,
    resume_at: datetime | None,
    waiting_for: str = "",
    wait_rules: Any = (),
    error: str | None = None,
) -> None:
    """running → waiting at `step`: a wait, or a retry's backoff (the sweep wakes it)."""
    _move(run, "park")
    run.current_step = step
    run.resume_at = resume_at
    run.resume_handle = ""
    run.resume_payload = {}
    run.waiting_for = waiting_for
    run.wait_rules = list(wait_rules)
    run.lease_until = None
    if error is not None:
        run.error = error


def hold(run: Run, *, until: datetime | None = None, paused: bool = False) -> None:
    """running → waiting before its next node: the workflow is paused (`held`, out
    of the sweep until resumed) or the contact is in quiet hours (until then)."""
    _move(run, "hold")
    run.held = paused
    run.resume_at = until or run.resume_at or timezone.now()
    run.lease_until = None


def complete(run: Run) -> None:
    """running → completed: a branch ended or flow.end."""
    _move(run, "complete")
    _finished(run, "")


def fail(run: Run, error: str, *, step: Step | None = None) -> None:
    """running → failed, pointing at the step that failed (retry resumes there)."""
    _move(run, "fail")
    if step is not None:
        run.current_step = step
    _finished(run, error)


def exit(run: Run, reason: str = "") -> None:
    """running/waiting → exited: the workflow's exit criteria are met."""
    _move(run, "exit")
    _finished(run, reason)


def cancel(run: Run, reason: str) -> None:
    """running/waiting → cancelled (e.g. its workflow was archived)."""
    _move(run, "cancel")
    _finished(run, reason)


def _finished(run: Run, error: str) -> None:
    open_step = run.current_step
    if (
        run.status != RunStatus.FAILED
        and open_step is not None
        and open_step.pk is not None
        and open_step.status in OPEN_STEP_STATUSES
    ):
        open_step.status = StepStatus.CANCELLED
        open_step.finished_at = timezone.now()
        open_step.save(update_fields=["status", "finished_at"])
    run.error = error
    run.finished_at = timezone.now()
    run.lease_until = None
    run.resume_at = None
    run.waiting_for = ""
    run.held = False
    if run.status != RunStatus.FAILED:
        run.current_step = None


@_writes_run_state
def save(run: Run) -> None:
    """Write a chunk's run: a compare-and-set on `running`, the state every chunk
    starts from. If anything else changed the row, nothing is written."""
    now = timezone.now()
    run.updated_at = now
    fields = {
        field.attname: getattr(run, field.attname)
        for field in Run._meta.concrete_fields
        if not field.primary_key and field.name != "created_at"
    }
    if not Run.objects.filter(pk=run.pk, status=RUNNING).update(**fields):
        raise TransitionRefused(f"run {run.pk} is no longer running; the chunk is not written")


@_writes_run_state
def save_all(runs: list[Run]) -> None:
    """`save` for many runs the caller holds locked, in one round trip (an
    executemany, pipelined by psycopg); all or nothing."""
    if not runs:
        return
    now = timezone.now()
    fields = [
        field
        for field in Run._meta.concrete_fields
        if not field.primary_key and field.name != "created_at"
    ]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = (
        f"UPDATE {quote(Run._meta.db_table)} SET {assignments} "
        f"WHERE {quote('id')} = %s AND {quote('status')} = %s"
    )
    rows = []
    for run in runs:
        run.updated_at = now
        rows.append(
            [field.get_db_prep_save(getattr(run, field.attname), connection) for field in fields]
            + [run.pk, RUNNING]
        )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        if cursor.rowcount != len(runs):
            raise TransitionRefused(
                f"{len(runs) - cursor.rowcount} of {len(runs)} runs are no longer running"
            )


# ---------------------------------------------------------------- set-based


@_writes_run_state
def wake(runs: QuerySet, *, queued: bool = True) -> int:
    """waiting → running for these runs; returns how many moved. `queued`: the
    caller queues them now; otherwise they are released, to be queued when
    their queue has room (dispatch.dispatch_released)."""
    now = timezone.now()
    return runs.filter(status__in=ACCEPTS["wake"]).update(
        status=RUNNING,
        held=False,
        lease_until=None,
        queued_at=now if queued else None,
        updated_at=now,
    )


@_writes_run_state
def retry(run_id: Any) -> Run:
    """failed → running, from the step that failed, with a fresh set of attempts."""
    with transaction.atomic():
        locked = (
            Run.objects.select_for_update(of=("self",))
            .select_related("current_step")
            .get(pk=run_id)
        )
        _move(locked, "retry")
        locked.retry_floor = locked.current_step.attempt if locked.current_step else 0
        locked.error = ""
        locked.finished_at = None
        locked.lease_until = None
        locked.queued_at = timezone.now()
        Run.objects.filter(pk=locked.pk, status__in=ACCEPTS["retry"]).update(
            status=RUNNING,
            retry_floor=locked.retry_floor,
            error="",
            finished_at=None,
            lease_until=None,
            queued_at=locked.queued_at,
            updated_at=locked.queued_at,
        )
    return locked


DISCARDED = "discarded"


@_writes_run_state
def discard(runs: QuerySet, note: str) -> int:
    """failed → cancelled for these dead letters: nobody will retry them.

    The run keeps its failed step and the failure's error, after a line that
    says it was discarded (by whom): its history shows both. Returns how many
    moved; a run retried meanwhile is no longer failed and is left alone.
    """
    accepted, target = TRANSITIONS["discard"]
    now = timezone.now()
    return runs.filter(status__in=accepted).update(
        status=target,
        error=Concat(Value(f"{DISCARDED}: {note}\n"), F("error")),
        lease_until=None,
        updated_at=now,
    )


@_writes_run_state
def hold_runs(runs: QuerySet) -> int:
    """Waiting runs of a paused workflow hold at their node: the sweep skips them
    (a run still moving holds itself at its next node: `hold(paused=True)`)."""
    return runs.filter(status__in=ACCEPTS["hold_runs"], held=False).update(
        held=True, updated_at=timezone.now()
    )


@_writes_run_state
def release_runs(runs: QuerySet) -> int:
    """Held runs of a workflow that is live again go back to the sweep, which
    wakes those whose timer fell due meanwhile."""
    return runs.filter(status__in=ACCEPTS["release_runs"], held=True).update(
        held=False, updated_at=timezone.now()
    )


def cancel_runs(runs: QuerySet, reason: str) -> int:
    """running/waiting → cancelled for these runs, closing their open steps."""
    return _end(runs, "cancel", reason)


def exit_runs(runs: QuerySet, reason: str) -> int:
    """running/waiting → exited for these runs, closing their open steps."""
    return _end(runs, "exit", reason)


@_writes_run_state
def _end(runs: QuerySet, name: str, reason: str) -> int:
    accepted, target = TRANSITIONS[name]
    now = timezone.now()
    active = runs.filter(status__in=accepted)
    Step.objects.filter(run__in=active, status__in=OPEN_STEP_STATUSES).update(
        status=StepStatus.CANCELLED, finished_at=now
    )
    return active.update(
        status=target,
        error=reason,
        finished_at=now,
        resume_at=None,
        waiting_for="",
        held=False,
        lease_until=None,
        updated_at=now,
    )
