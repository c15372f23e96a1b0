"""POST /api/v1/events: one event or a batch; 202 with what happened."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from automation import pending_events
from automation.contacts import link_contact_refs
from automation.ingest import ingest_events, retrying
from builder.models import Role

from .serializers import ErrorSerializer
from .serializers_events import (
    EventBatchSerializer,
    EventSerializer,
    IngestResultSerializer,
    incoming_event,
)
from .views import ApiViewMixin

EVENTS_REQUEST = PolymorphicProxySerializer(
    component_name="EventsRequest",
    serializers=[EventSerializer, EventBatchSerializer],
    resource_type_field_name=None,
)


class EventsView(ApiViewMixin, APIView):
    """Events from your app: stored, matched against active triggers, enrolling contacts."""

    required_roles = {"post": Role.EDITOR}

    @extend_schema(
        request=EVENTS_REQUEST,
        responses={202: IngestResultSerializer, 400: ErrorSerializer},
        operation_id="events_create",
    )
    def post(self, request):
        """Send one event, or {"events": [...]}.

        A batch is all or nothing: one invalid event refuses it whole and nothing
        is stored. An event whose id was already received counts as a duplicate.
        In the production shape (EVENT_INTAKE=queued) the 202 means the events are
        stored durably; contacts are enrolled right after, and `enrolled` is null.
        """
        if isinstance(request.data, dict) and "events" in request.data:
            events = self.validated(EventBatchSerializer, request.data)["events"]
            email_field = "events[{index}].contact.email"
        else:
            events = [self.validated(EventSerializer, request.data)]
            email_field = "contact.email"
        incoming = [incoming_event(event) for event in events]
        workspace_id = request.workspace.pk
        if pending_events.queued():
            # Store and answer; enrolment follows in batches (automation/pending_events.py).
            pending_events.check_contact_refs(
                workspace_id, [e.contact for e in incoming], field=email_field
            )
            stored = pending_events.store_events(workspace_id, incoming)
            return Response(stored.as_dict(), status=status.HTTP_202_ACCEPTED)

        def ingest():
            with transaction.atomic():
                link_contact_refs(workspace_id, [e.contact for e in incoming], field=email_field)
                return ingest_events(workspace_id, incoming)

        result = retrying(ingest)
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)
