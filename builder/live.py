"""What the canvas's WebSockets send: snapshots read from the database.

A snapshot is the truth a watcher falls back on when it connects, reconnects
or sees a gap in the sequence of live messages (channel layers drop messages
by design). Results are cached per process for a moment, so many watchers of
one workflow cost one query set, not one each.
"""

from __future__ import annotations

import time
from typing import Any

from automation.models import Run, Step
from automation.results import workflow_results
from builder.models import Membership, Workflow

RESULTS_TTL_SECONDS = 0.5
RECENT_RUNS = 20

_results_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def may_watch(user_id, workspace_id) -> bool:
    """Whether the user is, now, an active member of the workspace (any role reads).

    Read from the database every time: a socket's scope keeps the user as
    they were when it opened."""
    return Membership.objects.filter(
        user_id=user_id, user__is_active=True, workspace_id=workspace_id
    ).exists()


def watchable_workflow(user, workflow_id) -> Workflow | None:
    """The workflow if the user is a member of its workspace (any role reads), else None."""
    if not getattr(user, "is_authenticated", False):
        return None
    workflow = Workflow.objects.filter(pk=workflow_id).select_related("workspace").first()
    if workflow is None or not may_watch(user.pk, workflow.workspace_id):
        return None
    return workflow


def watchable_preview(user, run_id) -> Run | None:
    """The preview run if the user is a member of its workspace, else None."""
    if not getattr(user, "is_authenticated", False):
        return None
    run = Run.objects.filter(pk=run_id, is_preview=True).first()
    if run is None or not may_watch(user.pk, run.workspace_id):
        return None
    return run


def cached_results(workflow_id) -> dict[str, Any]:
    key = str(workflow_id)
    now = time.monotonic()
    hit = _results_cache.get(key)
    if hit and now - hit[0] < RESULTS_TTL_SECONDS:
        return hit[1]
    results = workflow_results(workflow_id)
    _results_cache[key] = (now, results)
    return results


def recent_runs(workflow_id) -> list[dict[str, Any]]:
    runs = (
        Run.objects.filter(workflow_id=workflow_id, is_preview=False)
        .select_related("contact")
        .order_by("-updated_at")[:RECENT_RUNS]
    )
    return [
        {
            "run": str(run.pk),
            "contact": run.contact_id,
            "contact_email": run.contact.email,
            "run_status": run.status,
            "current_node": run.current_node,
            "updated_at": run.updated_at.isoformat(),
        }
        for run in runs
    ]


def monitor_snapshot(workflow_id) -> dict[str, Any]:
    return {
        "type": "snapshot",
        "results": cached_results(workflow_id),
        "recent": recent_runs(workflow_id),
    }


def step_dict(step: Step) -> dict[str, Any]:
    return {
        "seq": step.seq,
        "node_id": step.node_id,
        "node_type": step.node_type,
        "status": step.status,
        "handle": step.handle,
        "output": step.output,
        "error": step.error,
        "attempt": step.attempt,
        "started_at": step.started_at.isoformat() if step.started_at else None,
        "finished_at": step.finished_at.isoformat() if step.finished_at else None,
    }


def preview_snapshot(run_id) -> dict[str, Any]:
    run = Run.objects.get(pk=run_id)
    steps = [step_dict(step) for step in Step.objects.filter(run_id=run_id).order_by("seq")]
    return {
        "type": "snapshot",
        "run": str(run.pk),
        "run_status": run.status,
        "current_node": run.current_node,
        "run_error": run.error,
        "paused_before": run.preview.get("paused_before"),
        "steps": steps,
        "last_seq": steps[-1]["seq"] if steps else 0,
    }
