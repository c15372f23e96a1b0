"""Preview: a draft run for a sample contact and event, by the same engine, with nothing real.

A preview is a stored Run (`is_preview`) of the draft graph it started on,
for a copy of the sample contact (`Contact.is_preview`: no event, segment or
list reaches it, so the real contact never changes and is never enrolled).
The engine runs it like any run with the dry-run effect policy: actions say
what they would do and do nothing. Where a real run would wait, a preview
goes on at once and says how long it would have waited; at a `wait.event`
it takes the tester's choice (given up front, or asked for by parking the
run until `choose()`); a branching node can be forced to a path; in
step-through mode it parks before each node until `go_on()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import transitions
from .dispatch import enqueue_runs
from .graph import Graph
from .models import Contact, Run, RunStatus, StepStatus
from .nodes.base import (
    RESUMED_BY_EVENT,
    RESUMED_BY_TIMEOUT,
    NodeContext,
    NodeResult,
    NodeType,
)
from .rules import get_zone
from .runs import RunStateError

MODES = ("run", "step")
# What the tester may answer at a wait.event: the engine's own resume reasons.
EVENT_CHOICES = (RESUMED_BY_EVENT, RESUMED_BY_TIMEOUT)


class PreviewError(RunStateError):
    """The tester asked for something this preview cannot do now (a 409 for the API)."""


# ---------------------------------------------------------------- starting
def start_preview(
    *,
    workspace_id: Any,
    workflow_id: Any,
    graph: Mapping[str, Any],
    trigger_node: str,
    contact: Contact | None,
    sample: Mapping[str, Any],
    event: Mapping[str, Any],
    mode: str = "run",
    choices: Mapping[str, Mapping[str, Any]] | None = None,
) -> Run:
    """Store a preview run and queue it. `contact`: an existing contact to copy, or None;
    `sample`: typed-in email/properties/tags/time_zone (over the copy's)."""
    base = contact.snapshot() if contact is not None else {}
    properties = {**base.get("properties", {}), **(sample.get("properties") or {})}
    tags = list(dict.fromkeys([*base.get("tags", []), *(sample.get("tags") or [])]))
    with transaction.atomic():
        copy = Contact.objects.create(
            workspace_id=workspace_id,
            is_preview=True,
            properties=properties,
            tags=tags,
            time_zone=sample.get("time_zone") or base.get("time_zone") or "UTC",
        )
        run = Run.objects.create(
            workspace_id=workspace_id,
            workflow_id=workflow_id,
            version=None,
            contact=copy,
            trigger_node=trigger_node,
            current_node=trigger_node,
            status=RunStatus.RUNNING,
            is_preview=True,
            preview={
                "graph": dict(graph),
                "event": {
                    "id": "preview",
                    "type": event.get("type") or "",
                    "data": dict(event.get("data") or {}),
                    "occurred_at": timezone.now().isoformat(),
                },
                # What the copy cannot hold (unique in the workspace): shown to nodes.
                "contact": {
                    "email": sample.get("email") or base.get("email"),
                    "external_id": sample.get("external_id") or base.get("external_id"),
                },
                "source_contact": contact.pk if contact is not None else None,
                "mode": mode,
                "choices": {key: dict(value) for key, value in (choices or {}).items()},
                "go": False,
                "paused_before": None,
            },
        )
        enqueue_runs([run.pk])
    return run


# ---------------------------------------------------------------- the engine's hooks
def preview_graph(run: Run) -> Graph:
    return Graph.parse(run.preview.get("graph") or {})


def contact_snapshot(run: Run, contact: Contact) -> dict[str, Any]:
    snapshot = contact.snapshot()
    snapshot.update({k: v for k, v in (run.preview.get("contact") or {}).items() if v})
    return snapshot


def event_snapshot(run: Run) -> dict[str, Any]:
    return dict(run.preview.get("event") or {})


def pause_before(run: Run, node_id: str) -> bool:
    """Step-through: park before a node unless the tester said "next" for it."""
    if run.preview.get("mode") != "step":
        return False
    if run.preview.get("go"):
        run.preview = {**run.preview, "go": False, "paused_before": None}
        return False
    run.preview = {**run.preview, "paused_before": node_id}
    transitions.hold(run)
    run.resume_at = None  # no timer: only the tester's "next" wakes it
    return True


def steer(
    run: Run,
    node_id: str,
    node_class: type[NodeType],
    implementation: NodeType,
    ctx: NodeContext,
    result: NodeResult,
) -> NodeResult:
    """What a preview does with a node's result: fast-forward waits, apply choices."""
    choice = (run.preview.get("choices") or {}).get(node_id) or {}
    wait = result.wait
    if wait is not None and not wait.event:
        resumed = implementation.resume(ctx, None, {})
        would = f"would wait {wait.description}" if wait.description else "would wait"
        if wait.resume_at is not None:
            zone_name = ctx.contact.get("time_zone") or "UTC"
            local = wait.resume_at.astimezone(get_zone(zone_name))
            would += f", until {local:%a %d %b %Y %H:%M} in the contact's time zone ({zone_name})"
        return replace(resumed, output={**resumed.output, "preview": would})
    if wait is not None and wait.event:
        handle = choice.get("handle")
        if handle not in EVENT_CHOICES:
            return result  # parked until the tester chooses
        return _event_choice(implementation, ctx, wait.event, handle, choice.get("data"))
    handle = choice.get("handle")
    if handle and node_class.branching and handle in node_class.output_handles(ctx.config):
        return replace(
            result, handle=handle, output={**result.output, "preview": f"path {handle} chosen"}
        )
    return result


def _event_choice(
    implementation: NodeType, ctx: NodeContext, event_type: str, handle: str, data: Any
) -> NodeResult:
    payload = (
        {
            "id": "preview",
            "type": event_type,
            "data": dict(data or {}),
            "occurred_at": timezone.now().isoformat(),
        }
        if handle == RESUMED_BY_EVENT
        else {}
    )
    resumed = implementation.resume(ctx, handle, payload)
    return replace(resumed, output={**resumed.output, "preview": f"tester chose {handle}"})


def park(run: Run) -> None:
    """A preview parked at a wait.event waits for the tester only: no timer, no real event."""
    run.resume_at = None
    run.waiting_for = ""


# ---------------------------------------------------------------- the tester's moves
def _waiting_preview(run_id: Any) -> Run:
    run = Run.objects.select_for_update().filter(pk=run_id, is_preview=True).first()
    if run is None:
        raise Run.DoesNotExist(run_id)
    if run.status != RunStatus.WAITING:
        raise PreviewError(f"the preview is {run.status}, not waiting for you")
    return run


def _wake(run: Run) -> None:
    if not transitions.wake(Run.objects.filter(pk=run.pk)):
        raise PreviewError("the preview is no longer waiting")
    enqueue_runs([run.pk])


def go_on(run_id: Any) -> Run:
    """Step-through: execute the node the preview is paused before."""
    with transaction.atomic():
        run = _waiting_preview(run_id)
        if not run.preview.get("paused_before"):
            raise PreviewError("the preview is waiting at an event: choose received or timeout")
        run.preview = {**run.preview, "go": True}
        run.save(update_fields=["preview", "updated_at"])
        _wake(run)
    return run


def choose(run_id: Any, handle: str, data: Mapping[str, Any] | None = None) -> Run:
    """At a wait.event: the event arrives (with `data`) or the wait times out."""
    if handle not in EVENT_CHOICES:
        raise PreviewError(f"choose one of {', '.join(EVENT_CHOICES)}")
    with transaction.atomic():
        run = _waiting_preview(run_id)
        step = run.current_step
        if step is None or step.status != StepStatus.WAITING or step.node_type != "wait.event":
            raise PreviewError("the preview is not waiting at a wait for an event")
        run.resume_handle = handle
        run.resume_payload = (
            {
                "id": "preview",
                "type": preview_graph(run).config(step.node_id).get("event", ""),
                "data": dict(data or {}),
                "occurred_at": timezone.now().isoformat(),
            }
            if handle == RESUMED_BY_EVENT
            else {}
        )
        run.save(update_fields=["resume_handle", "resume_payload", "updated_at"])
        _wake(run)
    return run
