"""Waits and exits inside the run loop: parking a run, an event that already
arrived for a wait (automation/awaited.py decides which), exit criteria and
quiet hours."""

from __future__ import annotations

from typing import Any

from .. import awaited, preview, transitions
from ..models import Step, StepStatus
from ..nodes.base import NodeResult, Wait
from ..quiet_hours import quiet_until
from ..rules import evaluate
from .chunk import Chunk, scope
from .outcome import Outcome
from .records import jsonable, record


def hold_for_quiet_hours(chunk: Chunk) -> bool:
    """Park the run before its next outside effect if the contact is in quiet hours.

    No step is written: the node has not been visited yet; the sweep wakes
    the run when the quiet hours end and the visit happens then.
    """
    until = quiet_until(
        chunk.graph.settings.get("quiet_hours"), chunk.now, chunk.contact.time_zone or "UTC"
    )
    if until is None or chunk.dry_run:
        return False
    transitions.hold(chunk.run, until=until)
    return True


def exit_rules_met(chunk: Chunk) -> bool:
    return bool(chunk.exit_rules) and evaluate(
        chunk.exit_rules.get("match", "all"), chunk.exit_rules["rules"], scope(chunk)
    )


def exit_event_received(chunk: Chunk) -> bool:
    """Event ingest exits waiting runs itself; a running one checks here."""
    return awaited.exit_event_received(chunk.run, chunk.exit_event)


def stored_event(chunk: Chunk, node_id: str, wait: Wait) -> dict[str, Any] | None:
    """An event that already arrived and that this wait takes (awaited.py says which)."""
    event = awaited.take_stored(
        chunk.run,
        node_id=node_id,
        event_type=wait.event,
        rules=wait.event_rules,
        contact=chunk.contact.snapshot(),
        since=wait.event_since,
    )
    return None if event is None else event.snapshot()


def park_at_wait(chunk: Chunk, step: Step, result: NodeResult) -> Outcome:
    wait = result.wait
    run = chunk.run
    step.status = StepStatus.WAITING
    step.output = jsonable({**result.output, "waiting": wait.description})
    record(chunk, step, now=True)
    transitions.park(
        run,
        step=step,
        resume_at=wait.resume_at,
        waiting_for=wait.event or "",
        wait_rules=wait.event_rules,
    )
    if run.is_preview:
        preview.park(run)
    return Outcome.WAITING
