"""Waits: park the run until a moment or an event. A wait never sleeps in a
worker; run() returns a Wait and the engine stores it on the run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from automation.rules import (
    DURATION_SCHEMA,
    RULES_SCHEMA,
    duration_label,
    get_zone,
    to_timedelta,
)

from .base import (
    EVENT_TYPE_MAX_LENGTH,
    RESUMED_BY_EVENT,
    ConfigIssue,
    NodeContext,
    NodeResult,
    NodeType,
    PermanentNodeError,
    Wait,
)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class DelayWait(NodeType):
    type = "wait.delay"
    label = "Wait"
    summary = "Wait {:duration}"
    category = "wait"
    description = "Waits a fixed time before going on, e.g. 2 days."
    config_schema = {
        "type": "object",
        "properties": {
            "amount": DURATION_SCHEMA["properties"]["amount"],
            "unit": DURATION_SCHEMA["properties"]["unit"],
        },
        "required": ["amount", "unit"],
        "additionalProperties": False,
    }

    def run(self, ctx: NodeContext) -> NodeResult:
        amount, unit = ctx.config["amount"], ctx.config["unit"]
        return NodeResult(
            wait=Wait(
                resume_at=ctx.now + to_timedelta(amount, unit),
                description=duration_label(amount, unit),
            )
        )

    def resume(
        self, ctx: NodeContext, handle: str | None, payload: Mapping[str, Any]
    ) -> NodeResult:
        return NodeResult(
            output={"waited": duration_label(ctx.config["amount"], ctx.config["unit"])},
            handle="out",
        )


def parse_moment(value: str, tz_name: str | None) -> datetime | None:
    """An ISO-8601 datetime; one without an offset is read in the given zone."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=get_zone(tz_name))
    return moment


def next_time_of_day(
    now: datetime, at: str, weekdays: list[str] | None, tz_name: str | None
) -> datetime:
    """The first moment strictly after `now` whose local time (in tz_name) is `at`
    ("HH:MM") on one of `weekdays` (any day when empty); an aware UTC datetime."""
    zone = get_zone(tz_name)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    hour, minute = (int(part) for part in at.split(":"))
    allowed = set(weekdays or WEEKDAYS)
    local_today = now.astimezone(zone).date()
    for offset in range(8):
        day = local_today + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in allowed:
            continue
        # Round-trip through UTC so a time inside a DST gap lands on a real instant.
        candidate = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
        if candidate > now:
            return candidate
    raise ValueError("no weekday selected")  # unreachable with a valid config


class UntilWait(NodeType):
    type = "wait.until"
    label = "Wait until"
    summary = "Wait until[ {at}][ {time}][ on {weekdays:list}]"
    category = "wait"
    description = (
        "Waits for a date and time, or for a time of day on chosen weekdays, "
        "in the contact's time zone."
    )
    config_schema = {
        "type": "object",
        "properties": {
            "mode": {
                "enum": ["datetime", "time"],
                "enumNames": ["A date and time", "A time of day"],
                "title": "Wait for",
                "default": "time",
            },
            "at": {
                "type": "string",
                "title": "Date and time",
                "description": (
                    "E.g. 2025-11-28T09:00. Without an offset it is read in the "
                    "contact's time zone. If it has passed, the contact goes on at once."
                ),
            },
            "time": {
                "type": "string",
                "pattern": TIME_PATTERN,
                "title": "Time of day",
                "description": "24-hour HH:MM in the contact's time zone, e.g. 09:00.",
                "default": "09:00",
            },
            "weekdays": {
                "type": "array",
                "items": {"enum": list(WEEKDAYS)},
                "uniqueItems": True,
                "title": "On these days",
                "description": "Leave empty for any day.",
                "default": [],
            },
        },
        "required": ["mode"],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        if config["mode"] == "datetime":
            if "at" not in config:
                return [ConfigIssue("at", "set the date and time to wait for", "required")]
            if parse_moment(config["at"], "UTC") is None:
                return [
                    ConfigIssue(
                        "at",
                        f"{config['at']!r} is not a date and time (use e.g. 2025-11-28T09:00)",
                        "datetime",
                    )
                ]
        elif "time" not in config:
            return [ConfigIssue("time", "set the time of day to wait for", "required")]
        return []

    def _target(self, ctx: NodeContext) -> datetime:
        tz_name = ctx.contact.get("time_zone") or "UTC"
        if ctx.config["mode"] == "datetime":
            moment = parse_moment(ctx.config["at"], tz_name)
            if moment is None:
                raise PermanentNodeError(f"at: {ctx.config['at']!r} is not a date and time")
            return moment.astimezone(UTC)
        return next_time_of_day(ctx.now, ctx.config["time"], ctx.config.get("weekdays"), tz_name)

    def run(self, ctx: NodeContext) -> NodeResult:
        target = self._target(ctx)
        if target <= ctx.now:
            # The moment has passed: go on at once rather than park the run.
            return NodeResult(output={"waited": False, "until": target.isoformat()}, handle="out")
        zone = get_zone(ctx.contact.get("time_zone"))
        local = target.astimezone(zone)
        return NodeResult(
            wait=Wait(
                resume_at=target,
                description=f"until {local:%A %Y-%m-%d %H:%M} ({zone.key})",
            )
        )

    def resume(
        self, ctx: NodeContext, handle: str | None, payload: Mapping[str, Any]
    ) -> NodeResult:
        return NodeResult(output={"waited": True, "until": ctx.now.isoformat()}, handle="out")


class EventWait(NodeType):
    type = "wait.event"
    label = "Wait for event"
    summary = "Wait for {event}[, up to {timeout:duration}]"
    category = "wait"
    description = (
        "Waits until the contact does something (an event arrives), or gives up after a time limit."
    )
    handles = ("received", "timeout")
    branching = True
    config_schema = {
        "type": "object",
        "properties": {
            "event": {
                "type": "string",
                "minLength": 1,
                "maxLength": EVENT_TYPE_MAX_LENGTH,
                "title": "Event",
                "description": "The event type to wait for, e.g. purchase.",
            },
            "timeout": {
                **DURATION_SCHEMA,
                "title": "Give up after",
                "description": "If the event has not arrived by then, take the 'timeout' path.",
            },
            "lookback": {
                **DURATION_SCHEMA,
                "title": "Also count events from the last",
                "description": (
                    "By default an event counts if it arrived since the contact entered "
                    "the workflow. Set this to also count earlier ones, e.g. 2 days."
                ),
            },
            "rules": {
                **RULES_SCHEMA,
                "title": "Only when (all must match)",
                "description": (
                    "Conditions on the arriving event, e.g. event.data.total is at least 50."
                ),
            },
        },
        "required": ["event", "timeout"],
        "additionalProperties": False,
    }

    def run(self, ctx: NodeContext) -> NodeResult:
        event, timeout = ctx.config["event"], ctx.config["timeout"]
        label = duration_label(timeout["amount"], timeout["unit"])
        return NodeResult(
            wait=Wait(
                resume_at=ctx.now + to_timedelta(timeout["amount"], timeout["unit"]),
                event=event,
                event_rules=tuple(ctx.config.get("rules") or ()),
                event_since=(
                    ctx.now - to_timedelta(lookback["amount"], lookback["unit"])
                    if (lookback := ctx.config.get("lookback"))
                    else None
                ),
                description=f"for {event} (up to {label})",
            )
        )

    def resume(
        self, ctx: NodeContext, handle: str | None, payload: Mapping[str, Any]
    ) -> NodeResult:
        if handle == RESUMED_BY_EVENT:
            return NodeResult(output={"event": dict(payload)}, handle="received")
        return NodeResult(output={"timed_out": True}, handle="timeout")


NODE_TYPES: list[type[NodeType]] = [DelayWait, UntilWait, EventWait]
