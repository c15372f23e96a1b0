"""Which events wake a wait or end a run: one rule for every path.

A run's own events are the contact's events received after it was enrolled,
in the order Cairn received them (`Event.seq`, numbered per contact under the
contact's row lock), never by a sender's `occurred_at`: a client whose clock
runs a little behind, or an order stamped a second after its cart but
received later, still counts.

- A `wait.event` takes the first of the run's events (or, with a lookback,
  of the contact's events received within it) that matches the type and the
  rules and that the run has not taken before: each event is taken once per
  run, recorded in `ConsumedEvent`, so a loop that brings the run back to the
  same wait takes the next event, never the same one again.
- The exit event ends a run when one of its events has that type.

The engine asks when a run reaches a wait (`take_stored`) or starts a chunk
(`exit_event_received`); ingest asks for waiting runs as events arrive
(`take_arrived`, `exits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q

from .models import ConsumedEvent, Event, Run
from .rules import evaluate

# How many stored events of the awaited type a wait looks through.
LOOKBACK_LIMIT = 500


def enrolled_after(run: Run, event: Event) -> bool:
    """The event was received after the run was enrolled."""
    return event.seq > run.events_after


def _matches(event: Event, rules: Sequence[Any], contact: Mapping[str, Any]) -> bool:
    scope = {"event": event.snapshot(), "contact": contact}
    return not rules or evaluate("all", list(rules), scope)


def take_stored(
    run: Run,
    *,
    node_id: str,
    event_type: str,
    rules: Sequence[Any],
    contact: Mapping[str, Any],
    since: datetime | None = None,
) -> Event | None:
    """The first stored event this wait takes now, recorded as taken; None if none.

    `since` (a lookback) also admits the contact's events received from then
    on, including ones before the run was enrolled; the trigger event never
    counts.
    """
    window = Q(seq__gt=run.events_after)
    if since is not None:
        window |= Q(received_at__gte=since)
    candidates = (
        Event.objects.filter(window, contact_id=run.contact_id, type=event_type)
        .exclude(Exists(ConsumedEvent.objects.filter(run=run.pk, event=OuterRef("pk"))))
        .order_by("seq", "received_at", "pk")
    )
    if run.trigger_event_id is not None:
        candidates = candidates.exclude(pk=run.trigger_event_id)
    for event in candidates[:LOOKBACK_LIMIT]:
        if _matches(event, rules, contact):
            consume(run, event, node_id)
            return event
    return None


def take_arrived(run: Run, events: Iterable[Event]) -> Event | None:
    """Of events just stored for a waiting run's contact, the first (in the order
    received) its open wait takes, recorded as taken; None if none does."""
    for event in sorted(events, key=lambda e: e.seq):
        if event.type != run.waiting_for or not enrolled_after(run, event):
            continue
        if not _matches(event, run.wait_rules, event.contact.snapshot()):
            continue
        consume(run, event, run.current_node)
        return event
    return None


def consume(run: Run, event: Event, node_id: str) -> None:
    ConsumedEvent.objects.create(run_id=run.pk, event=event, node_id=node_id)


def exit_event_received(run: Run, exit_event: str) -> bool:
    """One of the run's events is its workflow's exit event."""
    return (
        bool(exit_event)
        and Event.objects.filter(
            contact_id=run.contact_id, type=exit_event, seq__gt=run.events_after
        )
        .exclude(pk=run.trigger_event_id)
        .exists()
    )


def exits(runs: Iterable[Run], events: Sequence[Event], exit_event: str) -> list:
    """Ids of these runs that one of the just-stored events ends."""
    newest: dict[int, int] = {}
    for event in events:
        if event.type == exit_event:
            newest[event.contact_id] = max(newest.get(event.contact_id, 0), event.seq)
    return [
        run.pk
        for run in runs
        if run.contact_id in newest and newest[run.contact_id] > run.events_after
    ]
