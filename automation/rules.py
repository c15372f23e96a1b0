"""Rules: the small predicate language of conditions, triggers and wait.event.

A rule is `{"field": "contact.properties.plan", "op": "eq", "value": "pro"}`.
`field` is a dotted path into the run's scope (`contact`, `event`, `steps`,
`engagement`, `now`); list items are reached by number (`event.data.items.0.sku`).

Evaluation never raises: a missing field, a value of the wrong type or an
unknown operator makes the rule false (or true for the negated operators,
where "not there" is the honest answer). Marketers build these on the canvas,
and a run must not fail because an event arrived without a field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class _Missing:
    """The value of a path that leads nowhere (distinct from a stored null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

# ---------------------------------------------------------------- schemas

DURATION_UNITS = ("seconds", "minutes", "hours", "days", "weeks")

# No amount in any unit may exceed the longest duration (MAX_DURATION below, ten
# years) counted in seconds: a bound the catalogue shows, so a 310-digit amount is
# a validation issue on the field rather than an overflow (duration_issues then
# applies the unit).
MAX_DURATION_AMOUNT = 3653 * 86400

DURATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Duration",
    "properties": {
        "amount": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_DURATION_AMOUNT,
            "title": "Amount",
            "description": "How many units, e.g. 2 for two days.",
            "default": 1,
        },
        "unit": {
            "enum": list(DURATION_UNITS),
            "title": "Unit",
            "default": "days",
        },
    },
    "required": ["amount", "unit"],
    "additionalProperties": False,
}

OPERATORS = (
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "not_contains",
    "in",
    "not_in",
    "exists",
    "not_exists",
    "starts_with",
    "ends_with",
    "within_last",
    "not_within_last",
    "is_true",
    "is_false",
)

# How the canvas may show each operator (same order as OPERATORS).
OPERATOR_LABELS = {
    "eq": "is",
    "ne": "is not",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "contains": "contains",
    "not_contains": "does not contain",
    "in": "is one of",
    "not_in": "is none of",
    "exists": "is set",
    "not_exists": "is not set",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "within_last": "is within the last",
    "not_within_last": "is not within the last",
    "is_true": "is true",
    "is_false": "is false",
}

VALUELESS_OPERATORS = ("exists", "not_exists", "is_true", "is_false")
_TIME_OPERATORS = ("within_last", "not_within_last")
_LIST_OPERATORS = ("in", "not_in")


def _when_op(ops: Sequence[str], then: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {"op": {"enum": list(ops)}}, "required": ["op"]}, "then": then}


RULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Rule",
    "properties": {
        "field": {
            "type": "string",
            "minLength": 1,
            "title": "Field",
            "description": (
                "What to check, e.g. contact.properties.plan, event.data.total, "
                "steps.<step id>.status or now.weekday."
            ),
        },
        "op": {
            "enum": list(OPERATORS),
            "enumNames": [OPERATOR_LABELS[op] for op in OPERATORS],
            "title": "Operator",
            "default": "eq",
        },
        "value": {
            "title": "Value",
            "description": (
                "What to compare with. A list for 'is one of'; a duration or a number of "
                "days for 'is within the last'; not needed for 'is set' or 'is true'."
            ),
        },
    },
    "required": ["field", "op"],
    "additionalProperties": False,
    "allOf": [
        _when_op(
            [op for op in OPERATORS if op not in VALUELESS_OPERATORS], {"required": ["value"]}
        ),
        _when_op(
            _TIME_OPERATORS,
            {
                "properties": {
                    "value": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, DURATION_SCHEMA]}
                }
            },
        ),
        _when_op(_LIST_OPERATORS, {"properties": {"value": {"type": ["array", "string"]}}}),
    ],
}

RULES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "title": "Rules",
    "description": "Conditions to check. Leave empty to always match.",
    "items": RULE_SCHEMA,
    "default": [],
}

MATCH_SCHEMA: dict[str, Any] = {
    "enum": ["all", "any"],
    "enumNames": ["All rules match", "Any rule matches"],
    "title": "Match",
    "default": "all",
}


# ---------------------------------------------------------------- durations


def to_timedelta(amount: float | int, unit: str) -> timedelta:
    """`to_timedelta(2, "days")`; raises ValueError on an unknown unit."""
    if unit not in DURATION_UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {', '.join(DURATION_UNITS)}")
    return timedelta(**{unit: float(amount)})


# The longest wait, interval or lookback a workflow may ask for: ten years.
# Longer ones are typing mistakes, and past ~2.7 million years they overflow.
MAX_DURATION = timedelta(days=3653)


def duration_issues(config: Any, path: str = "") -> list[tuple[str, str]]:
    """(field, message) for every {amount, unit} object in `config` longer than MAX_DURATION."""
    issues: list[tuple[str, str]] = []
    if isinstance(config, Mapping):
        amount, unit = config.get("amount"), config.get("unit")
        if unit in DURATION_UNITS and isinstance(amount, int | float):
            try:
                seconds = float(amount) * _UNIT_SECONDS[unit]
            except OverflowError:  # an int too large for a float
                seconds = math.inf
            if not math.isfinite(seconds) or seconds > MAX_DURATION.total_seconds():
                field = f"{path}.amount" if path else "amount"
                issues.append(
                    (field, f"{duration_label(amount, unit)} is longer than the 10 years allowed")
                )
        for key, value in config.items():
            if isinstance(value, Mapping | list):
                issues += duration_issues(value, f"{path}.{key}" if path else str(key))
    elif isinstance(config, list):
        for index, value in enumerate(config):
            issues += duration_issues(value, f"{path}.{index}")
    return issues


_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


def duration_label(amount: float | int, unit: str) -> str:
    """`duration_label(2, "days")` -> "2 days"; `(1, "hours")` -> "1 hour"."""
    number = float(amount)
    text = str(int(number)) if number.is_integer() else f"{number:g}"
    name = unit[:-1] if number == 1 and unit.endswith("s") else unit
    return f"{text} {name}"


# ---------------------------------------------------------------- time


def get_zone(tz_name: str | None) -> ZoneInfo:
    """The zone for an IANA name; UTC for an empty or unknown name."""
    if tz_name:
        try:
            return ZoneInfo(str(tz_name))
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            pass
    return ZoneInfo("UTC")


def is_valid_zone(tz_name: Any) -> bool:
    if not isinstance(tz_name, str) or not tz_name:
        return False
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def now_scope(now: datetime, tz_name: str) -> dict[str, Any]:
    """The `now.*` scope, in the contact's time zone (UTC when unknown)."""
    zone = get_zone(tz_name)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    local = now.astimezone(zone)
    return {
        "iso": local.isoformat(),
        "date": local.date().isoformat(),
        "weekday": _WEEKDAYS[local.weekday()],
        "weekday_number": local.weekday(),
        "hour": local.hour,
        "minute": local.minute,
        "time": local.strftime("%H:%M"),
        "timezone": zone.key,
    }


_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from a datetime, a date or an ISO-8601 string; None otherwise.

    Naive values are taken as UTC.
    """
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and _DATE_PREFIX.match(value.strip()):
        try:
            result = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    return result


# ---------------------------------------------------------------- resolve


def resolve(path: str, data: Mapping[str, Any]) -> Any:
    """Follow a dotted path through mappings and lists; MISSING when it leads nowhere."""
    if not isinstance(path, str) or not path:
        return MISSING
    current: Any = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            if part in current:
                current = current[part]
                continue
            return MISSING
        if isinstance(current, Sequence) and not isinstance(current, str | bytes):
            try:
                index = int(part)
            except ValueError:
                return MISSING
            if -len(current) <= index < len(current):
                current = current[index]
                continue
            return MISSING
        return MISSING
    return current


# ---------------------------------------------------------------- operators


def to_number(value: Any) -> float | None:
    """A finite number from a number or a numeric string; None otherwise (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _is_real_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _equals(left: Any, right: Any) -> bool:
    if left is MISSING or right is MISSING:
        return False
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, bool) and isinstance(right, bool):
            return left is right
        other, flag = (right, left) if isinstance(left, bool) else (left, right)
        if isinstance(other, str):
            return other.strip().lower() == ("true" if flag else "false")
        return False
    if _is_real_number(left) or _is_real_number(right):
        a, b = to_number(left), to_number(right)
        return a is not None and b is not None and a == b
    try:
        return bool(left == right)
    except Exception:
        return False


def _compare(left: Any, right: Any) -> int | None:
    """-1/0/1 for comparable values (numbers, datetimes, strings); None otherwise."""
    if left is MISSING or left is None or right is None:
        return None
    a, b = to_number(left), to_number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    if (a is not None or b is not None) and (_is_real_number(left) or _is_real_number(right)):
        # A number against text that is not a number: incomparable.
        return None
    da, db = parse_datetime(left), parse_datetime(right)
    if da is not None and db is not None:
        return (da > db) - (da < db)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    return None


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, str):
        if isinstance(needle, bool) or not isinstance(needle, str | int | float):
            return False
        return str(needle).lower() in haystack.lower()
    if isinstance(haystack, Mapping):
        return isinstance(needle, str) and needle in haystack
    if isinstance(haystack, Sequence) and not isinstance(haystack, bytes):
        return any(_same_item(item, needle) for item in haystack)
    return False


def _same_item(item: Any, needle: Any) -> bool:
    if isinstance(item, str) and isinstance(needle, str):
        return item.lower() == needle.lower()
    return _equals(item, needle)


def _as_list(value: Any) -> list[Any] | None:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return list(value)
    return None


def _in(field_value: Any, value: Any) -> bool:
    options = _as_list(value)
    if options is None or field_value is MISSING:
        return False
    if isinstance(field_value, Sequence) and not isinstance(field_value, str | bytes):
        # A list field (tags) is "in" the options when any item is.
        return any(_same_item(item, option) for item in field_value for option in options)
    return any(_same_item(field_value, option) for option in options)


def _present(value: Any) -> bool:
    return value is not MISSING and value is not None and value != ""


def _truthy(value: Any) -> bool | None:
    """True / False for values that clearly say so; None for anything else."""
    if isinstance(value, bool):
        return value
    if _is_real_number(value):
        return float(value) != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "y", "1", "on"):
            return True
        if text in ("false", "no", "n", "0", "off"):
            return False
    return None


def _window(value: Any) -> timedelta | None:
    if isinstance(value, Mapping):
        amount = to_number(value.get("amount"))
        unit = value.get("unit")
        if amount is None or unit not in DURATION_UNITS:
            return None
        return to_timedelta(amount, unit)
    days = to_number(value)
    return timedelta(days=days) if days is not None else None


def _now_of(data: Mapping[str, Any]) -> datetime:
    now = parse_datetime(resolve("now.iso", data))
    return now if now is not None else datetime.now(UTC)


def _within_last(field_value: Any, value: Any, data: Mapping[str, Any]) -> bool | None:
    """True/False when the field is a datetime; None when it is not one."""
    moment = parse_datetime(field_value)
    window = _window(value)
    if moment is None or window is None:
        return None
    now = _now_of(data)
    return now - window <= moment <= now


def _string_op(field_value: Any, value: Any, op: str) -> bool:
    if not isinstance(field_value, str) or not isinstance(value, str | int | float):
        return False
    if isinstance(value, bool):
        return False
    text, part = field_value.lower(), str(value).lower()
    return text.startswith(part) if op == "starts_with" else text.endswith(part)


def check_rule(rule: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """One rule against the scope. Never raises."""
    if not isinstance(rule, Mapping):
        return False
    op = rule.get("op")
    value = rule.get("value")
    field_value = resolve(rule.get("field", ""), data)
    try:
        if op == "eq":
            return _equals(field_value, value)
        if op == "ne":
            return not _equals(field_value, value)
        if op in ("gt", "gte", "lt", "lte"):
            order = _compare(field_value, value)
            if order is None:
                return False
            return {
                "gt": order > 0,
                "gte": order >= 0,
                "lt": order < 0,
                "lte": order <= 0,
            }[op]
        if op == "contains":
            return _contains(field_value, value)
        if op == "not_contains":
            return not _contains(field_value, value)
        if op == "in":
            return _in(field_value, value)
        if op == "not_in":
            return not _in(field_value, value)
        if op == "exists":
            return _present(field_value)
        if op == "not_exists":
            return not _present(field_value)
        if op in ("starts_with", "ends_with"):
            return _string_op(field_value, value, op)
        if op == "within_last":
            return _within_last(field_value, value, data) is True
        if op == "not_within_last":
            if not _present(field_value):
                # Never seen counts as "not within the last N days".
                return True
            return _within_last(field_value, value, data) is False
        if op == "is_true":
            return _truthy(field_value) is True
        if op == "is_false":
            return _truthy(field_value) is False or not _present(field_value)
    except Exception:
        return False
    return False


def evaluate(match: str, rules: Sequence[Mapping[str, Any]], data: Mapping[str, Any]) -> bool:
    """All (match="all") or any (match="any") of the rules; no rules always matches."""
    if not rules:
        return True
    results = (check_rule(rule, data) for rule in rules)
    return any(results) if match == "any" else all(results)
