"""Triggers: what enrols a contact into a workflow.

A trigger node's run() only records what started the run; the matching
itself (which event, which property change, which schedule tick) is the
engine's job, helped by the pure functions at the bottom of this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from croniter import croniter

from automation.rules import (
    DURATION_SCHEMA,
    MATCH_SCHEMA,
    MISSING,
    RULES_SCHEMA,
    evaluate,
    get_zone,
    is_valid_zone,
    to_number,
    to_timedelta,
)

from .base import (
    EVENT_TYPE_MAX_LENGTH,
    PROPERTY_NAME_MAX_LENGTH,
    TAG_MAX_LENGTH,
    ConfigIssue,
    NodeContext,
    NodeResult,
    NodeType,
)

EVENT_NAME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": EVENT_TYPE_MAX_LENGTH,
    "title": "Event",
    "description": "The event type, exactly as your app sends it, e.g. signup or cart_created.",
}


# How a trigger type is activated. Intake loops over the catalogue by these:
# ingest over EVENT and WEBHOOK types, contact changes over CONTACT types,
# the schedules sweep over SCHEDULE and INACTIVITY types.
EVENT, WEBHOOK, CONTACT, SCHEDULE, INACTIVITY = (
    "event",
    "webhook",
    "contact",
    "schedule",
    "inactivity",
)


class TriggerNode(NodeType):
    """A trigger owns its activation: how it binds (the key its index row is
    looked up by, its first due time), and whether an event, a contact change
    or a tick enrols. All pure: the intake modules do the reading and writing."""

    category = "trigger"
    handles = ("out",)
    activation: ClassVar[str] = ""

    @classmethod
    def binding_key(cls, config: Mapping[str, Any]) -> str:
        """What the trigger index is looked up by (an event type, a property, a tag)."""
        return ""

    @classmethod
    def first_fire(cls, config: Mapping[str, Any], now: datetime) -> datetime | None:
        """When a time-driven trigger is first due after publishing."""
        return None

    @classmethod
    def matches_event(cls, config: Mapping[str, Any], scope: Mapping[str, Any]) -> bool:
        """For EVENT and WEBHOOK triggers: whether this event (scope: event, contact) enrols."""
        return trigger_rules_match(config, scope)

    @classmethod
    def fires_on_change(
        cls,
        config: Mapping[str, Any],
        key: str,
        old_properties: Mapping[str, Any],
        new_properties: Mapping[str, Any],
        added_tags: set[str],
    ) -> bool:
        """For CONTACT triggers: whether this change of a contact enrols it."""
        return False

    @classmethod
    def includes(cls, config: Mapping[str, Any], scope: Mapping[str, Any]) -> bool:
        """For SCHEDULE triggers: whether a tick enrols this contact (scope: contact)."""
        return True

    @classmethod
    def next_fire(cls, config: Mapping[str, Any], after: datetime) -> datetime | None:
        """For SCHEDULE triggers: the tick after `after`."""
        return None

    def run(self, ctx: NodeContext) -> NodeResult:
        event = ctx.event or {}
        output = {"event": {"type": event.get("type"), "id": event.get("id")}} if event else {}
        return NodeResult(output=output, handle="out")


class EventTrigger(TriggerNode):
    type = "trigger.event"
    activation = EVENT
    label = "Event received"
    summary = "On {event}"
    description = "Starts when your app sends an event for a contact, e.g. a signup or a purchase."
    config_schema = {
        "type": "object",
        "properties": {
            "event": EVENT_NAME_SCHEMA,
            "match": MATCH_SCHEMA,
            "rules": {
                **RULES_SCHEMA,
                "title": "Only when",
                "description": (
                    "Optional conditions on the event, e.g. event.data.total is at least 50."
                ),
            },
        },
        "required": ["event"],
        "additionalProperties": False,
    }

    @classmethod
    def binding_key(cls, config: Mapping[str, Any]) -> str:
        return str(config.get("event", ""))


class WebhookTrigger(TriggerNode):
    type = "trigger.webhook"
    activation = WEBHOOK
    label = "Incoming webhook"
    description = (
        "Starts when another tool sends a POST to this workflow's own signed URL "
        "(shown after you publish)."
    )
    config_schema = {
        "type": "object",
        "properties": {
            "match": MATCH_SCHEMA,
            "rules": {
                **RULES_SCHEMA,
                "title": "Only when",
                "description": (
                    "Optional conditions on the request, e.g. event.data.status is paid."
                ),
            },
        },
        "required": [],
        "additionalProperties": False,
    }


class ScheduleTrigger(TriggerNode):
    type = "trigger.schedule"
    activation = SCHEDULE
    label = "On a schedule"
    summary = "Schedule[ {cron}][ every {interval:duration}]"
    description = "Enrols a group of contacts at set times, e.g. every Monday at 9:00."
    config_schema = {
        "type": "object",
        "properties": {
            "cron": {
                "type": "string",
                "title": "Schedule (cron)",
                "description": (
                    "Five fields: minute hour day-of-month month weekday. "
                    "'0 9 * * 1' is every Monday at 9:00. Use this or 'Every', not both."
                ),
            },
            "interval": {
                **DURATION_SCHEMA,
                "title": "Every",
                "description": "Repeat after this long, e.g. every 1 day.",
            },
            "timezone": {
                "type": "string",
                "title": "Time zone",
                "description": "The zone the schedule follows, e.g. Europe/Paris.",
                "default": "UTC",
            },
            "segment": {
                "type": "object",
                "title": "Who to enrol",
                "description": "Leave empty to enrol every contact.",
                "properties": {
                    "tags_any": {
                        "type": "array",
                        "items": {"type": "string", "minLength": 1, "maxLength": TAG_MAX_LENGTH},
                        "title": "Has any of these tags",
                        "default": [],
                    },
                    "match": MATCH_SCHEMA,
                    "rules": {
                        **RULES_SCHEMA,
                        "title": "And matches",
                        "description": (
                            "Conditions on the contact, e.g. contact.properties.plan is pro."
                        ),
                    },
                },
                "additionalProperties": False,
            },
        },
        "required": [],
        "additionalProperties": False,
    }

    @classmethod
    def first_fire(cls, config: Mapping[str, Any], now: datetime) -> datetime | None:
        return next_schedule_fire(config, now)

    @classmethod
    def next_fire(cls, config: Mapping[str, Any], after: datetime) -> datetime | None:
        return next_schedule_fire(config, after)

    @classmethod
    def includes(cls, config: Mapping[str, Any], scope: Mapping[str, Any]) -> bool:
        return segment_includes(config, scope)

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        issues = []
        has_cron, has_interval = "cron" in config, "interval" in config
        if has_cron == has_interval:
            issues.append(
                ConfigIssue(
                    field="cron",
                    message="choose either a cron schedule or an interval (exactly one)",
                    code="schedule.one_of",
                )
            )
        if has_cron:
            cron = config["cron"]
            if len(cron.split()) != 5 or not croniter.is_valid(cron):
                issues.append(
                    ConfigIssue(
                        field="cron",
                        message=f"{cron!r} is not a valid cron schedule "
                        "(five fields: minute hour day-of-month month weekday)",
                        code="schedule.cron",
                    )
                )
        if "timezone" in config and not is_valid_zone(config["timezone"]):
            issues.append(
                ConfigIssue(
                    field="timezone",
                    message=f"unknown time zone {config['timezone']!r} "
                    "(use a name like Europe/Paris)",
                    code="timezone",
                )
            )
        return issues


PROPERTY_MODES = ("changed", "crosses_above", "crosses_below", "enters_band")


class PropertyTrigger(TriggerNode):
    type = "trigger.property"
    activation = CONTACT
    label = "Property changed"
    summary = "{property}: {mode:enum}[ {value}]"
    description = (
        "Starts when a contact property changes, rises above or falls below a value, "
        "or enters a range."
    )
    config_schema = {
        "type": "object",
        "properties": {
            "property": {
                "type": "string",
                "minLength": 1,
                "maxLength": PROPERTY_NAME_MAX_LENGTH,
                "title": "Property",
                "description": "The contact property to watch, e.g. score or plan.",
            },
            "mode": {
                "enum": list(PROPERTY_MODES),
                "enumNames": [
                    "Changes to anything",
                    "Rises to or above a value",
                    "Falls below a value",
                    "Enters a range",
                ],
                "title": "When it",
                "default": "changed",
            },
            "value": {
                "type": "number",
                "title": "Value",
                "description": "The threshold for 'rises to or above' and 'falls below'.",
            },
            "min": {
                "type": "number",
                "title": "From (included)",
                "description": "Lower end of the range. Leave empty for no lower end.",
            },
            "max": {
                "type": "number",
                "title": "Up to (not included)",
                "description": "Upper end of the range. Leave empty for no upper end.",
            },
        },
        "required": ["property"],
        "additionalProperties": False,
    }

    @classmethod
    def binding_key(cls, config: Mapping[str, Any]) -> str:
        return str(config.get("property", ""))

    @classmethod
    def fires_on_change(cls, config, key, old_properties, new_properties, added_tags) -> bool:
        return old_properties.get(key, MISSING) != new_properties.get(
            key, MISSING
        ) and property_trigger_fires(config, old_properties.get(key), new_properties.get(key))

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        mode = config.get("mode", "changed")
        issues = []
        if mode in ("crosses_above", "crosses_below") and "value" not in config:
            issues.append(
                ConfigIssue(field="value", message="set the value to compare with", code="required")
            )
        if mode == "enters_band":
            if "min" not in config and "max" not in config:
                issues.append(
                    ConfigIssue(
                        field="min",
                        message="set the start or the end of the range (or both)",
                        code="required",
                    )
                )
            elif "min" in config and "max" in config and config["min"] >= config["max"]:
                issues.append(
                    ConfigIssue(
                        field="max",
                        message="the end of the range must be greater than its start",
                        code="range",
                    )
                )
        return issues


class SegmentTrigger(TriggerNode):
    type = "trigger.segment"
    activation = CONTACT
    label = "Tag added"
    summary = "Tag added: {tag}"
    description = "Starts when a contact gets a tag, e.g. when they join the 'beta' list."
    config_schema = {
        "type": "object",
        "properties": {
            "tag": {
                "type": "string",
                "minLength": 1,
                "maxLength": TAG_MAX_LENGTH,
                "title": "Tag",
                "description": "Enrol a contact when this tag is added to them.",
            },
        },
        "required": ["tag"],
        "additionalProperties": False,
    }

    @classmethod
    def binding_key(cls, config: Mapping[str, Any]) -> str:
        return str(config.get("tag", ""))

    @classmethod
    def fires_on_change(cls, config, key, old_properties, new_properties, added_tags) -> bool:
        return key in added_tags


class InactivityTrigger(TriggerNode):
    type = "trigger.inactivity"
    activation = INACTIVITY
    label = "Gone quiet"
    summary = "No {event} for {days} days"
    description = "Starts when a contact has sent no event of a type for a number of days."
    config_schema = {
        "type": "object",
        "properties": {
            "event": {
                **EVENT_NAME_SCHEMA,
                "description": "The activity to watch for, e.g. login.",
            },
            "days": {
                "type": "integer",
                "minimum": 1,
                "title": "Days without it",
                "default": 30,
            },
        },
        "required": ["event", "days"],
        "additionalProperties": False,
    }

    @classmethod
    def binding_key(cls, config: Mapping[str, Any]) -> str:
        return str(config.get("event", ""))


NODE_TYPES: list[type[NodeType]] = [
    EventTrigger,
    WebhookTrigger,
    ScheduleTrigger,
    PropertyTrigger,
    SegmentTrigger,
    InactivityTrigger,
]


# ---------------------------------------------------------------- engine helpers


def trigger_rules_match(config: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """Whether an event/webhook trigger's optional rules accept the scope (no rules: yes)."""
    return evaluate(config.get("match", "all"), config.get("rules") or [], data)


def segment_includes(config: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """Whether a schedule trigger's segment includes the contact in `data["contact"]`."""
    segment = config.get("segment") or {}
    wanted = set(segment.get("tags_any") or [])
    if wanted:
        tags = (data.get("contact") or {}).get("tags") or []
        if not wanted.intersection(tags):
            return False
    return evaluate(segment.get("match", "all"), segment.get("rules") or [], data)


def _in_band(value: float | None, low: float | None, high: float | None) -> bool:
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value < high)


def property_trigger_fires(config: Mapping[str, Any], old_value: Any, new_value: Any) -> bool:
    """Whether a change of the watched property from old_value to new_value enrols.

    Pass MISSING (or None) for a property that was not set. Non-numbers never
    cross a threshold or enter a band.
    """
    mode = config.get("mode", "changed")
    if mode == "changed":
        old = None if old_value is MISSING else old_value
        new = None if new_value is MISSING else new_value
        return old != new
    new, old = to_number(new_value), to_number(old_value)
    if mode in ("crosses_above", "crosses_below"):
        threshold = to_number(config.get("value"))
        if threshold is None or new is None:
            return False
        if mode == "crosses_above":
            # A property that was missing (or not a number) was not above.
            was_above = old is not None and old >= threshold
            return not was_above and new >= threshold
        return old is not None and old >= threshold > new
    if mode == "enters_band":
        low, high = to_number(config.get("min")), to_number(config.get("max"))
        if low is None and high is None:
            return False
        return _in_band(new, low, high) and not _in_band(old, low, high)
    return False


def next_schedule_fire(config: Mapping[str, Any], after: datetime) -> datetime:
    """The first schedule tick strictly after `after`, as an aware UTC datetime.

    A cron schedule follows the config's time zone (so '0 9 * * *' stays at 9:00
    local across daylight-saving changes); an interval is simply after + interval.
    """
    if after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    if config.get("cron"):
        # Iterate over naive local wall-clock times, then place each in the zone:
        # croniter's own handling of aware datetimes drifts by the DST offset.
        zone = get_zone(config.get("timezone"))
        ticks = croniter(config["cron"], after.astimezone(zone).replace(tzinfo=None))
        for _ in range(10):
            wall = ticks.get_next(datetime)
            # fold=0: a wall time that happens twice (autumn) fires once, at its
            # first occurrence; one skipped by the spring change fires just after.
            candidate = wall.replace(tzinfo=zone).astimezone(UTC)
            if candidate > after:
                return candidate
        raise ValueError(f"no upcoming time for cron {config['cron']!r}")
    interval = config.get("interval") or {}
    if "amount" not in interval or "unit" not in interval:
        raise ValueError("a schedule needs a cron expression or an interval")
    return (after + to_timedelta(interval["amount"], interval["unit"])).astimezone(UTC)


def trigger_types(activation: str) -> list[str]:
    """The registered trigger types activated this way (the catalogue, not a list here)."""
    from .registry import all_node_types

    return [
        node_type.type
        for node_type in all_node_types()
        if getattr(node_type, "activation", "") == activation
    ]


def trigger_class(type_key: str) -> type[TriggerNode]:
    from .registry import get_node_type

    node_type = get_node_type(type_key)
    if node_type is None or not issubclass(node_type, TriggerNode):
        raise LookupError(f"{type_key!r} is not a registered trigger type")
    return node_type
