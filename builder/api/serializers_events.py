"""POST /api/v1/events: one event, or {"events": [...]} (a batch, all or nothing).

Every event is validated before anything is stored, so one bad event refuses
the whole batch. Each event's JSON is capped at EVENT_MAX_BYTES and a batch
at EVENT_BATCH_MAX events; errors name the event: `events[3].data`.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from automation.ingest import ContactRef, IncomingEvent

from .serializers_contacts import JSONObjectField, PropertiesField, time_zone_field

NEEDS_IDENTITY = "the contact needs an email or an external_id"


class EventContactSerializer(serializers.Serializer):
    """Who the event is about: found by external_id, else email; created if new."""

    email = serializers.EmailField(max_length=254, required=False, allow_null=True)
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True)
    properties = PropertiesField(
        required=False, help_text="Merged into the contact's properties; null deletes one."
    )
    time_zone = time_zone_field(required=False)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("email") and not attrs.get("external_id"):
            raise serializers.ValidationError(NEEDS_IDENTITY)
        return attrs


def event_size_error(raw: dict) -> dict[str, list[str]] | None:
    """An error naming the event's largest field when its JSON is over EVENT_MAX_BYTES."""
    limit = settings.EVENT_MAX_BYTES

    def size(value: Any) -> int:
        return len(json.dumps(value, ensure_ascii=False, default=str).encode())

    total = size(raw)
    if total <= limit:
        return None
    largest = max(raw, key=lambda key: size(raw[key]))
    return {
        str(largest): [
            f"the event is {total} bytes of JSON; the limit is {limit} bytes per event "
            "(EVENT_MAX_BYTES)"
        ]
    }


class EventSerializer(serializers.Serializer):
    id = serializers.CharField(
        max_length=200,
        required=False,
        allow_null=True,
        help_text="Your unique id for the event; an id already received is a duplicate.",
    )
    type = serializers.CharField(max_length=200, help_text="e.g. signup, cart_created.")
    contact = EventContactSerializer()
    data = JSONObjectField(required=False, default=dict)
    occurred_at = serializers.DateTimeField(
        required=False, help_text="ISO-8601; defaults to the time it is received."
    )

    def to_internal_value(self, data: Any) -> dict:
        if isinstance(data, dict) and (error := event_size_error(data)):
            raise serializers.ValidationError(error)
        return super().to_internal_value(data)


class EventBatchSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        limit = settings.EVENT_BATCH_MAX
        return {
            "events": serializers.ListSerializer(
                child=EventSerializer(),
                allow_empty=False,
                max_length=limit,
                error_messages={
                    "max_length": f"a batch holds at most {limit} events (EVENT_BATCH_MAX)",
                    "empty": "the batch is empty; send at least one event",
                },
            )
        }


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored.")
    duplicates = serializers.IntegerField(help_text="Events whose id was already received.")
    enrolled = serializers.IntegerField(
        allow_null=True,
        help_text="Runs started by these events; null when they are enrolled after the "
        "answer (EVENT_INTAKE=queued, the production default): the events are stored and "
        "enrolment follows within moments.",
    )


def incoming_event(validated: dict) -> IncomingEvent:
    contact = validated["contact"]
    return IncomingEvent(
        type=validated["type"],
        contact=ContactRef(
            email=contact.get("email") or None,
            external_id=contact.get("external_id") or None,
            properties=contact.get("properties") or None,
            time_zone=contact.get("time_zone") or None,
        ),
        data=validated.get("data") or {},
        occurred_at=validated.get("occurred_at") or timezone.now(),
        client_id=validated.get("id") or None,
    )
