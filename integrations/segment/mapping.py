"""Segment-style `track` / `identify` payloads mapped onto Cairn's events and contacts.

The spec (segment.com/docs/connections/spec): a message has `userId` and/or
`anonymousId`, a `messageId`, a `timestamp`, a `context` (with `traits`,
`timezone`). `track` has `event` and `properties`; `identify` has `traits`.

- The contact: `userId` is the external_id (an anonymous visitor gets
  `anonymous:<anonymousId>`), the email comes from traits (`traits.email`,
  `context.traits.email`, or a track's `properties.email`).
- track → an event of type `event`, data = properties, id = messageId (so a
  retried delivery is a duplicate), occurred_at = timestamp.
- identify → the contact's properties merge the traits (email aside).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from automation.contacts import ContactRef
from automation.ingest import IncomingEvent
from automation.rules import is_valid_zone


class SegmentError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Identify:
    email: str | None
    external_id: str | None
    properties: dict[str, Any]
    time_zone: str | None


def _object(message: Mapping[str, Any], field: str, prefix: str) -> dict[str, Any]:
    value = message.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SegmentError(f"{prefix}{field}", "must be a JSON object")
    return value


def _text(value: Any, field: str, limit: int = 200) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str | int):
        raise SegmentError(field, "must be a string")
    text = str(value).strip()
    if len(text) > limit:
        raise SegmentError(field, f"is longer than {limit} characters")
    return text or None


def _email(value: Any, field: str) -> str | None:
    text = _text(value, field, 254)
    if text is None:
        return None
    try:
        validate_email(text)
    except ValidationError:
        raise SegmentError(field, f"{text!r} is not a valid email address") from None
    return text.lower()


def _when(message: Mapping[str, Any], prefix: str) -> datetime:
    raw = message.get("timestamp")
    if raw in (None, ""):
        return timezone.now()
    parsed = parse_datetime(str(raw)) if isinstance(raw, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise SegmentError(f"{prefix}timestamp", "must be an ISO-8601 date-time with a zone")
    return parsed


def _who(message: Mapping[str, Any], traits: Mapping[str, Any], prefix: str, email_from=()):
    user_id = _text(message.get("userId"), f"{prefix}userId")
    anonymous = _text(message.get("anonymousId"), f"{prefix}anonymousId", 180)
    email = None
    for source, field in ((traits, "traits.email"), *email_from):
        email = email or _email(source.get("email"), f"{prefix}{field}")
    external_id = user_id or (f"anonymous:{anonymous}" if anonymous else None)
    if not external_id and not email:
        raise SegmentError(
            f"{prefix}userId", "a message needs a userId, an anonymousId or an email"
        )
    return email, external_id


def _zone(context: Mapping[str, Any], prefix: str) -> str | None:
    zone = context.get("timezone")
    if zone in (None, ""):
        return None
    if not isinstance(zone, str) or not is_valid_zone(zone):
        raise SegmentError(f"{prefix}context.timezone", f"{zone!r} is not a known time zone")
    return zone


def track(message: Any, prefix: str = "") -> IncomingEvent:
    if not isinstance(message, dict):
        raise SegmentError(prefix.rstrip(".") or "(body)", "must be a JSON object")
    name = _text(message.get("event"), f"{prefix}event")
    if not name:
        raise SegmentError(f"{prefix}event", "is required: the name of what happened")
    properties = _object(message, "properties", prefix)
    context = _object(message, "context", prefix)
    traits = context.get("traits") if isinstance(context.get("traits"), dict) else {}
    email, external_id = _who(
        message, traits, prefix, email_from=((properties, "properties.email"),)
    )
    return IncomingEvent(
        type=name,
        contact=ContactRef(email=email, external_id=external_id, time_zone=_zone(context, prefix)),
        data=properties,
        occurred_at=_when(message, prefix),
        client_id=_text(message.get("messageId"), f"{prefix}messageId"),
    )


def identify(message: Any, prefix: str = "") -> Identify:
    if not isinstance(message, dict):
        raise SegmentError(prefix.rstrip(".") or "(body)", "must be a JSON object")
    traits = _object(message, "traits", prefix)
    context = _object(message, "context", prefix)
    email, external_id = _who(message, traits, prefix)
    properties = {key: value for key, value in traits.items() if key != "email"}
    return Identify(email, external_id, properties, _zone(context, prefix))
