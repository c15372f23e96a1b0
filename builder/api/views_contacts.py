"""Contacts: list, upsert (POST), read, change (PATCH)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from automation.contacts import update_contact, upsert_contact
from automation.models import Contact
from builder.models import Role

from .serializers import ErrorSerializer
from .serializers_contacts import (
    ContactSerializer,
    ContactUpdateSerializer,
    ContactWriteSerializer,
)
from .views import ApiViewMixin

BAD_REQUEST = {400: ErrorSerializer}


class ContactViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Contacts of the current workspace."""

    queryset = Contact.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = ContactSerializer
    required_roles = {
        "list": Role.VIEWER,
        "retrieve": Role.VIEWER,
        "create": Role.EDITOR,
        "partial_update": Role.EDITOR,
    }

    def get_queryset(self):
        return Contact.objects.filter(workspace=self.request.workspace, is_preview=False)

    @extend_schema(
        parameters=[
            OpenApiParameter("email", str, description="Only the contact with this email."),
            OpenApiParameter("external_id", str, description="Only the contact with this id."),
        ],
        responses=ContactSerializer(many=True),
    )
    def list(self, request):
        """The workspace's contacts, newest first."""
        contacts = self.get_queryset()
        if email := request.query_params.get("email"):
            contacts = contacts.filter(email=email.lower())
        if external_id := request.query_params.get("external_id"):
            contacts = contacts.filter(external_id=external_id)
        page = self.paginate_queryset(contacts)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=ContactWriteSerializer,
        responses={201: ContactSerializer, 200: ContactSerializer, **BAD_REQUEST},
    )
    def create(self, request):
        """Upsert a contact: the one with this external_id, else this email, changes (200);
        otherwise a new one is created (201). Properties merge (null deletes one); tags
        replace."""
        data = self.validated(ContactWriteSerializer, request.data)
        contact, created = upsert_contact(request.workspace.pk, **data)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(contact).data, status=code)

    @extend_schema(responses=ContactSerializer)
    def retrieve(self, request, pk):
        """One contact."""
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        request=ContactUpdateSerializer, responses={200: ContactSerializer, **BAD_REQUEST}
    )
    def partial_update(self, request, pk):
        """Change a contact: properties merge (null deletes one), tags replace.

        Property and segment triggers fire as for any other change.
        """
        contact = self.get_object()
        data = self.validated(ContactUpdateSerializer, request.data)
        return Response(self.get_serializer(update_contact(contact, **data)).data)
