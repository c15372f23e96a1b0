"""`/api/schema/` and `/api/docs/`: public only when API_DOCS_PUBLIC says so.

The default follows DEBUG: open while developing, private in production,
where workspace members (logged in) and API keys may still read them. The
setting is read on every request.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from builder.models import ApiKey, Membership


class CanReadApiDocs(BasePermission):
    message = "the API schema is private: log in as a workspace member or send an API key"

    def has_permission(self, request, view) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if isinstance(request.auth, ApiKey):
            return True
        return user.is_staff or Membership.objects.filter(user=user).exists()


class SchemaView(SpectacularAPIView):
    permission_classes = [CanReadApiDocs]


class DocsView(SpectacularSwaggerView):
    permission_classes = [CanReadApiDocs]

    def handle_exception(self, exc):
        # A person opening the docs in a browser is sent to log in, then back.
        if isinstance(exc, exceptions.NotAuthenticated) or (
            isinstance(exc, exceptions.PermissionDenied) and not self.request.user.is_authenticated
        ):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)
