"""Quiet hours: actions that reach the contact wait until the quiet hours end.

`settings.quiet_hours = {"start": "21:00", "end": "08:00"}` is read in the
contact's time zone; a window may cross midnight. Only nodes that reach
outside (email, webhook) are held: tags, conditions and waits go on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from .rules import get_zone


def _clock(value: str) -> time:
    hour, minute = (int(part) for part in value.split(":"))
    return time(hour, minute)


def quiet_until(
    quiet_hours: Mapping[str, Any] | None, now: datetime, tz_name: str
) -> datetime | None:
    """When the quiet hours around `now` end, or None if `now` is not inside them."""
    if not quiet_hours:
        return None
    start, end = _clock(quiet_hours["start"]), _clock(quiet_hours["end"])
    local = now.astimezone(get_zone(tz_name))
    clock = local.time().replace(second=0, microsecond=0, tzinfo=None)
    crosses_midnight = start > end
    inside = (clock >= start or clock < end) if crosses_midnight else (start <= clock < end)
    if not inside:
        return None
    day = local.date()
    if crosses_midnight and clock >= start:
        day += timedelta(days=1)
    naive_end = datetime.combine(day, end)
    return naive_end.replace(tzinfo=local.tzinfo).astimezone(UTC)
