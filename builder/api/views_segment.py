"""Segment-style endpoints: POST /api/v1/segment/track, /identify and /batch.

Point a Segment "Webhooks" destination (or any analytics.js-style source) at
them. Auth: `Authorization: Bearer <api key>`, or HTTP Basic with the API
key as the user name and no password (how Segment sends a write key).
The mapping lives in integrations/segment/mapping.py.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC

from django.db import transaction
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import get_authorization_header
from rest_framework.response import Response
from rest_framework.views import APIView

from automation.contacts import link_contact_refs, update_contact, upsert_contact
from automation.ingest import ingest_events
from automation.models import Contact
from builder.models import Role
from integrations.segment import mapping

from .auth import ApiKeyAuthentication
from .schema import enum_names
from .serializers import ErrorSerializer
from .serializers_contacts import TIME_ZONES
from .serializers_events import IngestResultSerializer
from .views import ApiViewMixin


class WriteKeyAuthentication(ApiKeyAuthentication):
    """`Authorization: Basic base64(<api key>:)`: Segment's way of sending a write key."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != b"basic":
            return None
        try:
            user, _, _password = base64.b64decode(header[1]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("invalid Basic credentials") from None
        request.META["HTTP_AUTHORIZATION"] = f"Bearer {user}"
        return super().authenticate(request)


class SegmentResultSerializer(IngestResultSerializer):
    success = serializers.BooleanField()
    identified = serializers.IntegerField()


# What integrations/segment/mapping.py accepts, as JSON Schema: the person is a
# userId, an anonymousId, or an email (traits.email; for a track also
# properties.email or context.traits.email); texts are trimmed and bounded.
_TEXT = {"type": "string", "pattern": r"\S", "maxLength": 200}
_EMAIL = {"type": "string", "format": "email", "maxLength": 254}
_WITH_EMAIL = {"type": "object", "properties": {"email": _EMAIL}, "required": ["email"]}
_CONTEXT = {
    "type": "object",
    "properties": {
        "timezone": {
            "type": "string",
            "description": "An IANA time zone, e.g. Europe/Paris.",
            "enum": sorted(TIME_ZONES),
            "x-enum-varnames": enum_names(sorted(TIME_ZONES)),
        },
        "traits": {"type": "object", "properties": {"email": _EMAIL}},
    },
}
_COMMON = {
    "userId": _TEXT,
    "anonymousId": {**_TEXT, "maxLength": 180},
    "messageId": _TEXT,
    "timestamp": {"type": "string", "format": "date-time"},
    "context": _CONTEXT,
}


def _who(*email_places: tuple[str, ...]) -> list[dict]:
    """anyOf branches: one per way of naming the person."""
    branches: list[dict] = [{"required": ["userId"]}, {"required": ["anonymousId"]}]
    for outer, *inner in email_places:
        schema: dict = _WITH_EMAIL
        for name in reversed(inner):
            schema = {"type": "object", "properties": {name: schema}, "required": [name]}
        branches.append({"properties": {outer: schema}, "required": [outer]})
    return branches


SEGMENT_TRACK = {
    "type": "object",
    "properties": {
        **_COMMON,
        "type": {"type": "string", "enum": ["track"]},
        "event": _TEXT,
        "properties": {"type": "object", "properties": {"email": _EMAIL}},
    },
    "required": ["event"],
    "anyOf": _who(("properties",), ("context", "traits")),
}
SEGMENT_IDENTIFY = {
    "type": "object",
    "properties": {
        **_COMMON,
        "type": {"type": "string", "enum": ["identify"]},
        "traits": {"type": "object", "properties": {"email": _EMAIL}},
    },
    "anyOf": _who(("traits",)),
}
SEGMENT_BATCH = {
    "type": "object",
    "properties": {
        "batch": {
            "type": "array",
            "items": {
                "oneOf": [
                    {**SEGMENT_TRACK, "required": ["type", "event"]},
                    {**SEGMENT_IDENTIFY, "required": ["type"]},
                ]
            },
        }
    },
    "required": ["batch"],
}


def _in_utc(moment, field: str):
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise mapping.SegmentError(field, "is out of range") from None


def _refused(error: mapping.SegmentError):
    return serializers.ValidationError({error.field: [str(error)]})


class SegmentView(ApiViewMixin, APIView):
    required_roles = {"post": Role.EDITOR}
    kind = ""

    def get_authenticators(self):
        # Basic (a Segment write key) first, then the usual Bearer key and session.
        return [WriteKeyAuthentication(), *super().get_authenticators()]

    def post(self, request):
        data = request.data
        if self.kind == "batch":
            if not isinstance(data, dict) or not isinstance(data.get("batch"), list):
                raise serializers.ValidationError({"batch": ["must be a list of messages"]})
            messages = [
                (m.get("type") if isinstance(m, dict) else None, m, f"batch[{i}].")
                for i, m in enumerate(data["batch"])
            ]
        else:
            messages = [(self.kind, data, "")]
        tracks, identifies = [], []
        try:
            for kind, message, prefix in messages:
                if kind == "track":
                    track = mapping.track(message, prefix)
                    # In UTC: PostgreSQL refuses offsets past ±15:59 (a 500 before).
                    when = _in_utc(track.occurred_at, f"{prefix}timestamp")
                    tracks.append(dataclasses.replace(track, occurred_at=when))
                elif kind == "identify":
                    identifies.append(mapping.identify(message, prefix))
                else:
                    raise mapping.SegmentError(f"{prefix}type", "must be track or identify")
        except mapping.SegmentError as error:
            raise _refused(error) from None
        workspace_id = request.workspace.pk
        with transaction.atomic():
            for person in identifies:
                known = None
                if person.external_id and not person.email:
                    # No email in this identify: keep the one the contact has.
                    known = Contact.objects.filter(
                        workspace_id=workspace_id, external_id=person.external_id
                    ).first()
                if known is not None:
                    update_contact(known, properties=person.properties, time_zone=person.time_zone)
                else:
                    upsert_contact(
                        workspace_id,
                        email=person.email,
                        external_id=person.external_id,
                        properties=person.properties,
                        time_zone=person.time_zone,
                    )
            result = {"accepted": 0, "duplicates": 0, "enrolled": 0}
            if tracks:
                link_contact_refs(workspace_id, [t.contact for t in tracks], field="email")
                result = ingest_events(workspace_id, tracks).as_dict()
        return Response(
            {"success": True, **result, "identified": len(identifies)}, status=status.HTTP_200_OK
        )


def _documented(schema: dict):
    return extend_schema(
        request={"application/json": schema},
        responses={200: SegmentResultSerializer, 400: ErrorSerializer},
    )


@extend_schema_view(post=_documented(SEGMENT_TRACK))
class SegmentTrackView(SegmentView):
    kind = "track"


@extend_schema_view(post=_documented(SEGMENT_IDENTIFY))
class SegmentIdentifyView(SegmentView):
    kind = "identify"


@extend_schema_view(post=_documented(SEGMENT_BATCH))
class SegmentBatchView(SegmentView):
    kind = "batch"


class WriteKeyScheme(OpenApiAuthenticationExtension):
    target_class = "builder.api.views_segment.WriteKeyAuthentication"
    name = "segmentWriteKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "An API key of the workspace as the user name, no password.",
        }
