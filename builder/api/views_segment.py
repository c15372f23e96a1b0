"""Segment-style endpoints: POST /api/v1/segment/track, /identify and /batch.

Point a Segment "Webhooks" destination (or any analytics.js-style source) at
them. Auth: `Authorization: Bearer <api key>`, or HTTP Basic with the API
key as the user name and no password (how Segment sends a write key).
The mapping lives in integrations/segment/mapping.py.
"""

from __future__ import annotations

import base64

from django.db import transaction
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
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
from .serializers import ErrorSerializer
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


def _refused(error: mapping.SegmentError):
    return serializers.ValidationError({error.field: [str(error)]})


class SegmentView(ApiViewMixin, APIView):
    required_roles = {"post": Role.EDITOR}
    kind = ""

    def get_authenticators(self):
        # Basic (a Segment write key) first, then the usual Bearer key and session.
        return [WriteKeyAuthentication(), *super().get_authenticators()]

    @extend_schema(request=dict, responses={200: SegmentResultSerializer, 400: ErrorSerializer})
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
                    tracks.append(mapping.track(message, prefix))
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


class SegmentTrackView(SegmentView):
    kind = "track"


class SegmentIdentifyView(SegmentView):
    kind = "identify"


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
