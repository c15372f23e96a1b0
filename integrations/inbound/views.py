"""POST /hooks/workflows/<workflow id>/<token>: enrol into that workflow.

Two locks on this door. The URL's token (an HMAC of the workflow id, see
automation.webhooks.webhook_signature) only finds the workflow: a wrong one is
a 404, exactly like a workflow that does not exist. Each delivery must then
be signed per Standard Webhooks with one of the workflow's own signing
secrets (`webhook-id`, `webhook-timestamp`, `webhook-signature`: an HMAC
over id, timestamp and the raw body, compared in constant time, within
INBOUND_WEBHOOK_TOLERANCE_SECONDS of now); a webhook-id already received is
refused, so a captured request cannot be replayed. A paused workflow answers
409 and an archived one 410, storing nothing.

The body names the contact; the rest becomes the event's data:
{"id"?, "contact": {"email" | "external_id", ...}, "data": {...}}.
"""

from __future__ import annotations

import hmac
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from automation.contacts import link_contact_refs
from automation.ingest import (
    WEBHOOK_EVENT_TYPE,
    ContactRef,
    IncomingEvent,
    ingest_webhook,
    retrying,
)
from automation.models import Deployment, DeploymentStatus
from automation.rules import is_valid_zone
from automation.safe_json import SafeJSONParser
from automation.webhooks import webhook_signature

from .. import standard_webhooks
from ..models import InboundDelivery, WebhookSecret

# Received webhook-ids are kept at least an hour, and always past the
# timestamp window, after which a replay is refused for its stale timestamp.
DELIVERY_MEMORY_MIN_SECONDS = 3600


def delivery_memory_seconds() -> float:
    """How long a received webhook-id is remembered.

    A timestamp is accepted within the tolerance either way of now, so one
    signed delivery stays acceptable for twice the tolerance (first seen at
    timestamp - tolerance, still fresh at timestamp + tolerance): its id must
    be remembered at least that long, or a replay would be taken again.
    """
    window = 2 * float(settings.INBOUND_WEBHOOK_TOLERANCE_SECONDS)
    return max(DELIVERY_MEMORY_MIN_SECONDS, window + 60)


class InboundContactSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, required=False, allow_null=True)
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True)
    properties = serializers.JSONField(required=False)
    time_zone = serializers.CharField(max_length=64, required=False)

    def validate_properties(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value

    def validate_time_zone(self, value):
        if not is_valid_zone(value):
            raise serializers.ValidationError(f"'{value}' is not a known time zone")
        return value

    def validate(self, attrs):
        if not attrs.get("email") and not attrs.get("external_id"):
            raise serializers.ValidationError("the contact needs an email or an external_id")
        return attrs


class InboundWebhookSerializer(serializers.Serializer):
    id = serializers.CharField(
        max_length=200, required=False, allow_null=True, help_text="Deduplicates retries."
    )
    contact = InboundContactSerializer()
    data = serializers.JSONField(required=False, default=dict)

    def validate_data(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class InboundWebhookResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    enrolled = serializers.IntegerField()


class InboundRefusalSerializer(serializers.Serializer):
    detail = serializers.CharField()


class WorkflowWebhookView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = (SafeJSONParser,)

    @extend_schema(
        auth=[],
        request=InboundWebhookSerializer,
        responses={
            202: InboundWebhookResultSerializer,
            401: InboundRefusalSerializer,
            409: InboundRefusalSerializer,
            410: InboundRefusalSerializer,
        },
        operation_id="workflow_webhook",
        description=(
            "A workflow's own webhook URL (shown on the workflow as webhook_url). Sign each "
            "delivery per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) "
            "with a secret from POST /api/v1/workflows/{id}/webhook-secrets. 401: unsigned, "
            "badly signed or stale; 409: a replayed webhook-id, or the workflow is paused; "
            "410: the workflow is archived."
        ),
    )
    def post(self, request, workflow_id, signature: str):
        if not hmac.compare_digest(signature.encode(), webhook_signature(workflow_id).encode()):
            raise Http404("no such webhook")
        raw_body = request.body  # the exact bytes that were signed, before parsing
        deployment = Deployment.objects.filter(pk=workflow_id).first()
        if deployment is None:
            raise Http404("this workflow has not been published")
        secrets = [s.secret for s in WebhookSecret.active(workflow_id)]
        if not secrets:
            return refuse(
                status.HTTP_401_UNAUTHORIZED,
                "this workflow has no signing secret yet: create one with "
                f"POST /api/v1/workflows/{workflow_id}/webhook-secrets",
            )
        try:
            webhook_id, _timestamp = standard_webhooks.verify(
                secrets,
                request.headers,
                raw_body,
                tolerance=settings.INBOUND_WEBHOOK_TOLERANCE_SECONDS,
            )
        except standard_webhooks.VerificationError as error:
            return refuse(status.HTTP_401_UNAUTHORIZED, str(error))
        if deployment.status == DeploymentStatus.PAUSED:
            return refuse(
                status.HTTP_409_CONFLICT,
                "this workflow is paused: it enrols no one until it is resumed",
            )
        if deployment.status == DeploymentStatus.ARCHIVED:
            return refuse(
                status.HTTP_410_GONE, "this workflow is archived: it no longer takes webhooks"
            )
        size = len(json.dumps(request.data, default=str).encode())
        if size > settings.EVENT_MAX_BYTES:
            raise serializers.ValidationError(
                {"data": [f"the body is {size} bytes; the limit is {settings.EVENT_MAX_BYTES}"]}
            )
        body = InboundWebhookSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        contact = body.validated_data["contact"]
        event = IncomingEvent(
            type=WEBHOOK_EVENT_TYPE,
            contact=ContactRef(
                email=contact.get("email") or None,
                external_id=contact.get("external_id") or None,
                properties=contact.get("properties") or None,
                time_zone=contact.get("time_zone") or None,
            ),
            data=body.validated_data["data"],
            occurred_at=timezone.now(),
            client_id=body.validated_data.get("id") or None,
        )
        forget_old_deliveries()

        def ingest():
            with transaction.atomic():
                # The delivery is remembered in the transaction that stores its
                # event: both are kept or neither (a failed ingest can be resent).
                try:
                    with transaction.atomic():
                        InboundDelivery.objects.create(
                            workflow_id=workflow_id, webhook_id=webhook_id
                        )
                except IntegrityError:
                    return None  # a replay
                link_contact_refs(deployment.workspace_id, [event.contact], field="contact.email")
                return ingest_webhook(workflow_id, event)

        result = retrying(ingest)
        if result is None:
            return refuse(
                status.HTTP_409_CONFLICT,
                f"webhook-id {webhook_id[:200]} was already received: a replay is refused",
            )
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)


def refuse(code: int, detail: str) -> Response:
    return Response({"detail": detail}, status=code)


def forget_old_deliveries() -> None:
    cutoff = timezone.now() - timedelta(seconds=delivery_memory_seconds())
    InboundDelivery.objects.filter(received_at__lt=cutoff).delete()
