"""Connections (a workspace's stored credentials) and workflow webhook signing secrets."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from builder.models import Role, Workflow
from integrations.models import Connection, WebhookSecret
from integrations.services import test_connection, workflows_using

from .serializers import DetailSerializer, ErrorSerializer
from .serializers_connections import (
    ConnectionSerializer,
    ConnectionTestSerializer,
    WebhookSecretCreatedSerializer,
    WebhookSecretRotateSerializer,
    WebhookSecretSerializer,
)
from .views import ApiViewMixin

BAD_REQUEST = {400: ErrorSerializer}


class ConnectionViewSet(ApiViewMixin, viewsets.ModelViewSet):
    """Stored credentials per provider. Secrets go in and never come back in full."""

    queryset = Connection.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = ConnectionSerializer
    required_roles = {
        "list": Role.VIEWER,
        "retrieve": Role.VIEWER,
        "create": Role.ADMIN,
        "partial_update": Role.ADMIN,
        "destroy": Role.ADMIN,
        "test": Role.EDITOR,
    }

    def get_queryset(self):
        return Connection.objects.filter(workspace=self.request.workspace)

    @extend_schema(
        parameters=[OpenApiParameter("provider", str, description="Only this provider's.")],
    )
    def list(self, request):
        """The workspace's connections (the canvas lists them for a node's connection field)."""
        connections = self.get_queryset()
        if provider := request.query_params.get("provider"):
            connections = connections.filter(provider=provider)
        page = self.paginate_queryset(connections)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(responses={204: None, 409: DetailSerializer})
    def destroy(self, request, pk):
        """Delete a connection, unless a live workflow (published, or with runs going) uses it."""
        connection = self.get_object()
        using = workflows_using(connection)
        if using:
            return Response(
                {"detail": f"{connection.name} is used by {', '.join(using)}: change them first"},
                status=status.HTTP_409_CONFLICT,
            )
        connection.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=ConnectionTestSerializer)
    def test(self, request, pk):
        """Try the connection against its service: `{"ok": bool, "detail": str}`."""
        ok, detail = test_connection(self.get_object())
        return Response({"ok": ok, "detail": detail})


class WebhookSecretViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Signing secrets of a workflow's inbound webhook (Standard Webhooks)."""

    # A handful per workflow, answered as one list (documented paginated before).
    pagination_class = None

    queryset = WebhookSecret.objects.none()
    serializer_class = WebhookSecretSerializer
    required_roles = {"list": Role.EDITOR, "rotate": Role.PUBLISHER}

    def workflow(self) -> Workflow:
        return get_object_or_404(
            Workflow.objects.filter(workspace=self.request.workspace), pk=self.kwargs["pk"]
        )

    @extend_schema(responses=WebhookSecretSerializer(many=True))
    def list(self, request, pk):
        """The secrets that verify deliveries now (hints only), newest first."""
        secrets = WebhookSecret.active(self.workflow().pk)
        return Response(WebhookSecretSerializer(secrets, many=True).data)

    @extend_schema(
        request=WebhookSecretRotateSerializer,
        responses={201: WebhookSecretCreatedSerializer, **BAD_REQUEST},
    )
    def rotate(self, request, pk):
        """A new signing secret, shown in full this once; the current ones keep working
        for the overlap (`overlap_hours`, default WEBHOOK_SECRET_OVERLAP_HOURS), then stop."""
        workflow = self.workflow()
        data = self.validated(WebhookSecretRotateSerializer, request.data or {})
        overlap = data.get("overlap_hours")
        secret, raw = WebhookSecret.rotate(
            workflow.pk, overlap=timedelta(hours=overlap) if overlap is not None else None
        )
        body = {**WebhookSecretSerializer(secret).data, "secret": raw}
        return Response(body, status=status.HTTP_201_CREATED)
