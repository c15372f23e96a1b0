"""Contacts: the shape clients read, and what POST (upsert) and PATCH accept."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import available_timezones

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from automation.models import Contact
from automation.rules import is_valid_zone

PROPERTY_NAME_MAX = 100
TAG_MAX = 100
NEEDS_IDENTITY = "give an email or an external_id (at least one)"


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """Any JSON object (never a list or a scalar)."""

    default_error_messages = {"not_object": "must be a JSON object"}

    def to_internal_value(self, data: Any) -> dict:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        return value


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "propertyNames": {"minLength": 1, "maxLength": PROPERTY_NAME_MAX},
    }
)
class PropertiesField(JSONObjectField):
    """Contact properties: names are short text; a null value deletes the property."""

    def to_internal_value(self, data: Any) -> dict:
        value = super().to_internal_value(data)
        for name in value:
            if not name or len(name) > PROPERTY_NAME_MAX:
                raise serializers.ValidationError(
                    f"property names are 1 to {PROPERTY_NAME_MAX} characters; '{name[:40]}' is not"
                )
        size = len(json.dumps(value, default=str).encode())
        if size > settings.EVENT_MAX_BYTES:
            raise serializers.ValidationError(
                f"the properties are {size} bytes of JSON; the limit is "
                f"{settings.EVENT_MAX_BYTES} (EVENT_MAX_BYTES)"
            )
        return value


# The IANA names a contact's time zone may take: the schema lists them (enum), and
# validation accepts exactly these.
TIME_ZONES = frozenset(available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in TIME_ZONES or not is_valid_zone(value):
        raise serializers.ValidationError(
            f"'{value}' is not a known time zone; use an IANA name such as Europe/Paris"
        )


def tags_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX), max_length=1000, **kwargs
    )


def time_zone_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=64, validators=[validate_time_zone], **kwargs)


class ContactSerializer(serializers.ModelSerializer):
    properties = serializers.JSONField()
    tags = serializers.ListField(child=serializers.CharField())
    engagement = serializers.JSONField(help_text="Derived from events: opens, clicks, last seen.")

    class Meta:
        model = Contact
        fields = [
            "id",
            "email",
            "external_id",
            "properties",
            "tags",
            "time_zone",
            "engagement",
            "last_seen_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ContactWriteSerializer(serializers.Serializer):
    """POST /contacts/: found by external_id, else by email, else created."""

    email = serializers.EmailField(max_length=254, required=False, allow_null=True)
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True)
    properties = PropertiesField(
        required=False, help_text="Merged into the contact's properties; null deletes one."
    )
    tags = tags_field(required=False, help_text="Replaces the contact's tags.")
    time_zone = time_zone_field(required=False)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("email") and not attrs.get("external_id"):
            raise serializers.ValidationError({"email": [NEEDS_IDENTITY]})
        return attrs


class ContactUpdateSerializer(serializers.Serializer):
    """PATCH /contacts/{id}/: only the fields sent change."""

    email = serializers.EmailField(max_length=254, required=False, allow_null=True)
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True)
    properties = PropertiesField(
        required=False, help_text="Merged into the contact's properties; null deletes one."
    )
    tags = tags_field(required=False, help_text="Replaces the contact's tags.")
    time_zone = time_zone_field(required=False)
