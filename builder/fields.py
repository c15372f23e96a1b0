"""What the rule builder can offer: the fields rules reach, from the workspace's own data.

Rules read a run's scope (automation/rules.py): `contact.*` (the contact's
snapshot, its properties under `contact.properties.*`), `event.*` (the
trigger event: id, type, occurred_at, data), `steps.<node id>.*` (earlier
outputs, known from the graph being edited, so not listed here),
`engagement.*` and `now.*`. Property and data keys are collected from the
most recently updated contacts and the most recent events, a bounded sample
read in two queries and walked in Python (any database).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from automation.ingest import ENGAGEMENT_COUNTERS
from automation.models import Contact, Event
from automation.rules import now_scope

SAMPLE_SIZE = 1000
# Nested objects are offered this deep: contact.properties.address.city.
MAX_DEPTH = 3
# Fields per list at most: a workspace with free-form keys must not send megabytes.
MAX_FIELDS = 500


def keys_of(value: Any, prefix: str, found: dict[str, None], depth: int = MAX_DEPTH) -> None:
    """Add `prefix.<key>` for each key of a mapping (and of nested ones, `depth` levels deep)."""
    if not isinstance(value, Mapping) or depth < 1:
        return
    for key, item in value.items():
        if len(found) >= MAX_FIELDS:
            return
        if not isinstance(key, str) or not key or "." in key:
            continue  # a dotted path cannot reach it
        path = f"{prefix}.{key}"
        found.setdefault(path, None)
        keys_of(item, path, found, depth - 1)


def sorted_fields(found: Iterable[str]) -> list[str]:
    return sorted(found, key=str.lower)


def contact_fields(properties: Iterable[Any]) -> list[str]:
    base = [f"contact.{key}" for key in Contact().snapshot() if key != "properties"]
    found: dict[str, None] = {}
    for value in properties:
        keys_of(value, "contact.properties", found)
    return base + sorted_fields(found)


def engagement_fields(engagements: Iterable[Any]) -> list[str]:
    found: dict[str, None] = {"engagement.last_seen": None}
    for counter in ENGAGEMENT_COUNTERS.values():
        found[f"engagement.{counter}"] = None
        found[f"engagement.last_{counter[:-1]}"] = None
    for value in engagements:
        keys_of(value, "engagement", found, depth=1)
    return sorted_fields(found)


def event_fields(events: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    by_type: dict[str, dict[str, None]] = {}
    for event_type, data in events:
        keys_of(data, "event.data", by_type.setdefault(event_type, {}))
    return {event_type: sorted_fields(found) for event_type, found in sorted(by_type.items())}


def rule_fields(workspace_id: int) -> dict[str, Any]:
    contacts = list(
        Contact.objects.filter(workspace_id=workspace_id, is_preview=False)
        .order_by("-updated_at")
        .values_list("properties", "engagement")[:SAMPLE_SIZE]
    )
    events = (
        Event.objects.filter(workspace_id=workspace_id)
        .order_by("-received_at")
        .values_list("type", "data")[:SAMPLE_SIZE]
    )
    sample_event = Event(type="", data={}, occurred_at=datetime.now(UTC)).snapshot()
    return {
        "contact": contact_fields(properties for properties, _ in contacts),
        "event": [f"event.{key}" for key in sample_event if key != "data"],
        "events": event_fields(events),
        "engagement": engagement_fields(engagement for _, engagement in contacts),
        "now": [f"now.{key}" for key in now_scope(datetime.now(UTC), "UTC")],
    }
