"""What the builder tells the runtime on publish and status changes.

The runtime keeps its own index of active triggers (TriggerBinding rows)
so event matching never reads the builder's tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import transitions
from .dispatch import enqueue_workflow_cleanup
from .graph import Graph
from .models import (
    Deployment,
    DeploymentStatus,
    Run,
    RunStatus,
    TriggerBinding,
)
from .nodes.triggers import trigger_class
from .timers import wake_runs


@transaction.atomic
def deploy(
    *, workflow_id, workspace_id, version_id, graph: Mapping[str, Any], status: str
) -> Deployment:
    """Point the workflow's deployment at a version, rebuild its trigger index and
    bring its runs in line with `status` (`apply_status`)."""
    settings = dict(graph.get("settings") or {})
    exit_when = settings.get("exit_when") or {}
    deployment, _ = Deployment.objects.update_or_create(
        pk=workflow_id,
        defaults={
            "workspace_id": workspace_id,
            "version_id": version_id,
            "status": status,
            "settings": settings,
            "exit_event": exit_when.get("event") or "",
        },
    )
    # A schedule whose trigger did not change keeps its next fire time (and a
    # firing in progress): republishing an "every 7 days" workflow every 5
    # days must not push its first run back each time.
    kept = {
        (binding.node_id, binding.trigger_type, _config_key(binding.config)): binding
        for binding in deployment.triggers.all()
    }
    deployment.triggers.all().delete()
    now = timezone.now()
    TriggerBinding.objects.bulk_create(
        _binding(deployment, node, now, kept) for node in Graph.parse(graph).triggers()
    )
    apply_status(workflow_id, status)
    return deployment


def _config_key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def _binding(deployment: Deployment, node: Mapping[str, Any], now, kept) -> TriggerBinding:
    """The trigger's index row; the trigger type says how it binds."""
    trigger = trigger_class(node["type"])
    config = (node.get("data") or {}).get("config") or {}
    before = kept.get((node["id"], trigger.type, _config_key(config)))
    return TriggerBinding(
        deployment=deployment,
        workspace_id=deployment.workspace_id,
        node_id=node["id"],
        trigger_type=trigger.type,
        key=trigger.binding_key(config)[:200],
        config=config,
        next_fire_at=before.next_fire_at if before else trigger.first_fire(config, now),
        fire_after=before.fire_after if before else None,
    )


@transaction.atomic
def set_deployment_status(workflow_id, status: str) -> int:
    """Pause, resume or archive a deployed workflow: its status and its runs."""
    Deployment.objects.filter(pk=workflow_id).update(status=status, updated_at=timezone.now())
    return apply_status(workflow_id, status)


def apply_status(workflow_id, status: str) -> int:
    """What a workflow's status means for its runs; publish, pause, resume and
    archive all end here. Returns how many runs the change touched.

    Active (published or resumed): runs held by a pause go back to the sweep,
    and those whose timers fell due meanwhile are woken at once. Paused: no
    enrolments, waiting runs hold (the sweep skips them). Archived: no
    enrolments ever again, and runs still in flight are cancelled.
    """
    runs = Run.objects.filter(workflow_id=workflow_id, is_preview=False)
    if status == DeploymentStatus.ARCHIVED:
        # Not here, in the request: a worker cancels the runs page by page
        # after commit, and a run moving meanwhile cancels itself at its next
        # chunk. The timer sweep never wakes a run of an archived workflow.
        # Enrolment re-checks the status under a share lock (enrolment.enrol),
        # so no batch still enrolling can leave runs behind this cleanup.
        enqueue_workflow_cleanup(workflow_id)
        return 0
    if status == DeploymentStatus.ACTIVE:
        released = transitions.release_runs(runs)
        return released + wake_runs(Q(workflow_id=workflow_id, resume_at__lte=timezone.now()))
    if status == DeploymentStatus.PAUSED:
        # Out of the sweep's way until resumed; a run still moving holds
        # itself at its next node (engine, Outcome.HELD).
        return transitions.hold_runs(runs)
    return 0


@transaction.atomic
def migrate_waiting_runs(workflow_id, *, to_version_id, graph: Mapping[str, Any]) -> int:
    """Move waiting runs onto a new version where their node still exists with the same type."""
    nodes = {node["id"]: node.get("type") for node in graph.get("nodes", [])}
    moved = 0
    waiting = Run.objects.filter(
        workflow_id=workflow_id, status=RunStatus.WAITING, is_preview=False
    ).select_related("current_step")
    for run in waiting.select_for_update(skip_locked=True, of=("self",)).exclude(
        version_id=to_version_id
    ):
        step = run.current_step
        if step is not None and nodes.get(run.current_node) == step.node_type:
            run.version_id = to_version_id
            run.save(update_fields=["version", "updated_at"])
            moved += 1
    return moved
