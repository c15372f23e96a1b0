"""Hand runs to whatever executes them, only once the rows they need are committed.

A job that reaches a worker before its row is committed finds nothing, so
every hand-off goes through `transaction.on_commit`.

The executor is a seam: CAIRN_EXECUTION names it ("celery": automation.tasks,
"embedded": automation.embedded), and this module reaches it by that name,
never by an import, so the engine and intake never depend on an executor.
Each executor module offers `submit(run_ids, priority)`,
`submit_cleanup(workflow_id)` and `room(priority)` (how many more runs its
queue for that priority should take now).

Priority: every run goes out at its workflow's priority (`Workflow.priority`,
high / normal / low), which is the name of the Celery queue it takes. Workers
take high first (config/celery.py), so a backlog of low-priority runs never
delays a high-priority one. Everything that queues a run (enrolment, the
timer sweep, event wakes, manual and dead-letter retries, the reaper, a
worker handing runs back) comes through here, so none of them can forget it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from . import tenancy
from .models import Run, RunStatus

EXECUTORS = {"celery": "automation.tasks", "embedded": "automation.embedded"}

# The queue names, in the order workers take them.
PRIORITIES = ("high", "normal", "low")
DEFAULT_PRIORITY = "normal"
# A tester watching a preview waits for every step: previews go first.
PREVIEW_PRIORITY = "high"
# A workspace whose runs were slow lately waits behind everyone else's.
SLOW_PRIORITY = "low"
LOOKUP_BATCH = 1000


def enqueue_runs(run_ids: Iterable) -> None:
    """After commit, have the executor advance these runs, each at its workflow's priority."""
    ids = [str(run_id) for run_id in run_ids]
    if not ids:
        return
    for priority, group in by_priority(ids).items():
        transaction.on_commit(lambda p=priority, g=group: _executor("submit")(g, p))


def by_priority(run_ids: list[str]) -> dict[str, list[str]]:
    """The runs grouped by the queue they go to, each group in the order given.

    The priority is read when the run is queued (one query per thousand
    runs), so changing a workflow's priority applies to its next wake at once.
    Runs of a workspace marked slow lately go to `low` (automation/tenancy.py).
    """
    found: dict[str, str] = {}
    slow = tenancy.slow_workspaces()
    for start in range(0, len(run_ids), LOOKUP_BATCH):
        rows = (
            Run.objects.filter(pk__in=run_ids[start : start + LOOKUP_BATCH])
            .order_by()
            .values_list("pk", "is_preview", "workflow__priority", "workspace_id")
        )
        for pk, is_preview, priority, workspace_id in rows:
            if is_preview:
                found[str(pk)] = PREVIEW_PRIORITY
            else:
                found[str(pk)] = SLOW_PRIORITY if workspace_id in slow else priority
    groups: dict[str, list[str]] = {}
    for run_id in run_ids:
        priority = found.get(run_id) or DEFAULT_PRIORITY
        groups.setdefault(priority if priority in PRIORITIES else DEFAULT_PRIORITY, []).append(
            run_id
        )
    return groups


def dispatch_released() -> int:
    """Queue released runs (the timer sweep woke them) as far as their priority's
    queue has room, the longest due first; returns how many were queued.

    The executor says how many runs its queue takes now (`room`): Celery a
    bounded number of messages per queue, so Redis holds a bounded backlog
    however many timers fall due at once.
    """
    queued = 0
    for priority in PRIORITIES:
        room = _executor("room")(priority)
        while room > 0:
            with transaction.atomic():
                ids = list(
                    Run.objects.filter(
                        status=RunStatus.RUNNING, lease_until__isnull=True, queued_at__isnull=True
                    )
                    .filter(at_priority(priority))
                    .order_by("resume_at", "pk")
                    .select_for_update(skip_locked=True)
                    .values_list("pk", flat=True)[: min(room, LOOKUP_BATCH)]
                )
                if not ids:
                    break
                Run.objects.filter(pk__in=ids).update(queued_at=timezone.now())
                # at_priority picked them by the queue they go to: no second lookup.
                transaction.on_commit(
                    lambda p=priority, g=[str(i) for i in ids]: _executor("submit")(g, p)
                )
            queued += len(ids)
            room -= len(ids)
    return queued


def at_priority(priority: str | None) -> Q:
    """The runs by_priority sends to `priority`'s queue (None: every run)."""
    if priority is None:
        return Q()
    if priority == PREVIEW_PRIORITY:
        return Q(is_preview=True) | Q(workflow__priority=priority)
    return Q(is_preview=False, workflow__priority=priority)


def enqueue_workflow_cleanup(workflow_id) -> None:
    """After commit, have the executor cancel an archived workflow's runs in pages."""
    workflow_id = str(workflow_id)
    transaction.on_commit(lambda: _executor("submit_cleanup")(workflow_id))


def _executor(function: str):
    return import_string(f"{EXECUTORS[settings.CAIRN_EXECUTION]}.{function}")
