"""POST /hooks/workflows/<workflow id>/<signature>: enrol into that workflow.

No authentication: the signature (an HMAC of the workflow id, see
automation.webhooks.webhook_signature) is the secret. A wrong signature is a
404, exactly like a workflow that does not exist, so the URL space reveals
nothing. The body names the contact; the rest becomes the event's data:
{"id"?, "contact": {"email" | "external_id", ...}, "data": {...}}.
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.db import transaction
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
from automation.models import Deployment
from automation.rules import is_valid_zone
from automation.safe_json import SafeJSONParser
from automation.webhooks import webhook_signature


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


class WorkflowWebhookView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = (SafeJSONParser,)

    @extend_schema(
        auth=[],
        request=InboundWebhookSerializer,
        responses={202: InboundWebhookResultSerializer},
        operation_id="workflow_webhook",
        description="A workflow's own webhook URL (shown on the workflow as webhook_url).",
    )
    def post(self, request, workflow_id, signature: str):
        if not hmac.compare_digest(signature.encode(), webhook_signature(workflow_id).encode()):
            raise Http404("no such webhook")
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
        deployment = Deployment.objects.filter(pk=workflow_id).first()
        if deployment is None:
            raise Http404("this workflow has not been published")

        def ingest():
            with transaction.atomic():
                link_contact_refs(deployment.workspace_id, [event.contact], field="contact.email")
                return ingest_webhook(workflow_id, event)

        result = retrying(ingest)
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)
