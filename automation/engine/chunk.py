"""A chunk: what one transaction of the run loop works on, and the context its
nodes see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import preview
from ..graph import Graph
from ..models import Contact, Run, Step
from ..nodes.base import NodeContext
from .calls import CallAnswer, OutsideCall
from .outcome import NODES_PER_CHUNK, log


@dataclass
class Chunk:
    run: Run
    graph: Graph
    event: dict[str, Any]
    now: Any
    dry_run: bool
    exit_rules: dict[str, Any] | None
    exit_event: str
    # Written together when the chunk ends: one INSERT for the new steps,
    # one UPDATE for the contact.
    new_steps: list[Step] = field(default_factory=list)
    # Every step this chunk wrote or changed, for live watchers.
    touched: list[Step] = field(default_factory=list)
    contact_dirty: bool = False
    # The contact as the chunk found it, to fire property/segment triggers
    # once for the chunk's net change.
    contact_before: tuple[dict, list] = ({}, [])
    nodes_per_chunk: int = NODES_PER_CHUNK
    # The answer of the outside call this chunk records, and where it puts
    # the next call to make once it has committed.
    answer: CallAnswer | None = None
    calls: list[OutsideCall] = field(default_factory=list)
    # Part of advance_together: stop before an outside call, never begin it.
    together: bool = False

    @property
    def contact(self) -> Contact:
        return self.run.contact


def exit_rules_of(graph: Graph) -> dict[str, Any] | None:
    exit_when = graph.settings.get("exit_when") or {}
    return exit_when if exit_when.get("rules") else None


def scope(chunk: Chunk) -> dict[str, Any]:
    return context(chunk, "", {}, 1).data


def context(chunk: Chunk, node_id: str, config: Any, attempt: int) -> NodeContext:
    run = chunk.run
    contact = chunk.contact
    return NodeContext(
        node_id=node_id,
        config=config,
        contact=preview.contact_snapshot(run, contact) if run.is_preview else contact.snapshot(),
        event=chunk.event,
        steps=run.outputs,
        now=chunk.now,
        run_id=str(run.pk),
        workflow_id=str(run.workflow_id),
        workspace_id=str(run.workspace_id),
        idempotency_key=f"{run.pk}:{visit_seq(run)}",
        attempt=attempt,
        dry_run=chunk.dry_run,
        engagement=_engagement(contact),
        logger=log,
    )


def visit_seq(run: Run) -> int:
    """The seq of the step the current visit writes (or has written)."""
    return run.current_step.seq if run.current_step else run.step_count + 1


def _engagement(contact: Contact) -> dict[str, Any]:
    engagement = dict(contact.engagement)
    engagement["last_seen"] = contact.last_seen_at.isoformat() if contact.last_seen_at else None
    return engagement
