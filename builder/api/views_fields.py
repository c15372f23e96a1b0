"""GET /api/v1/fields: the fields the rule builder offers, from the workspace's recent data."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.fields import rule_fields
from builder.models import Role

from .serializers import FieldsSerializer
from .views import ApiViewMixin


class FieldsView(ApiViewMixin, APIView):
    """Fields a rule can check: contact, trigger event by type, engagement, time."""

    required_roles = {"get": Role.VIEWER}

    @extend_schema(responses=FieldsSerializer, operation_id="fields_retrieve")
    def get(self, request):
        """Rule fields for the rule builder.

        `contact.properties.*` keys come from the 1000 most recently updated contacts,
        `events` (by type, `event.data.*`) from the 1000 most recent events. Earlier
        steps (`steps.<node id>.*`) depend on the graph and are not listed.
        """
        return Response(rule_fields(request.workspace.pk))
