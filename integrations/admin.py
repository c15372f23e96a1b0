"""Connections and webhook signing secrets in the Django admin.

Secrets go in through a write-only field (never rendered back, not even into
a form shown again with errors) and are only ever shown redacted. "Test
connection" is an action on the list (for the selected connections) and a
button on each connection's change page.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse

from .models import Connection, EmailSuppression, WebhookSecret
from .providers import PROVIDERS
from .services import test_connection


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: what was typed into it is not sent
    back to the browser, even when the form is shown again with its errors."""

    def format_value(self, value):
        return None


class ConnectionForm(forms.ModelForm):
    new_secrets = forms.CharField(
        label="Secrets",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=(
            'A JSON object, e.g. {"bot_token": "xoxb-…"}. Leave empty to keep the stored '
            "secrets; a name given an empty string is removed. Never shown back: when the "
            "form has errors, type the secrets again."
        ),
    )

    class Meta:
        model = Connection
        fields = ("workspace", "provider", "name", "settings")
        help_texts = {
            "settings": (
                "Not secret; shown as is. The connection's credentials are sent only to the "
                "sites it is for: its base_url (Slack, Jira, GitHub, Linear, Mixpanel, SMS), "
                'or, for an HTTP connection, the sites listed in "hosts", e.g. '
                '{"auth": "bearer", "hosts": ["https://api.example.com"]}. Scheme, host and '
                "port must match; a webhook step calling anywhere else is refused."
            )
        }

    def clean_new_secrets(self):
        text = self.cleaned_data.get("new_secrets", "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            raise forms.ValidationError("not valid JSON (the text is not shown back)") from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError("a JSON object of text values, by secret name")
        return value

    def clean(self):
        cleaned = super().clean()
        provider = PROVIDERS.get(cleaned.get("provider") or "")
        if provider is None:
            return cleaned
        settings = cleaned.get("settings") or {}
        current = self.instance.secrets if self.instance.pk else {}
        secrets = {**current, **(cleaned.get("new_secrets") or {})}
        secrets = {k: v for k, v in secrets.items() if v}
        for field, message in provider.issues("settings", settings) + provider.issues(
            "secrets", secrets
        ):
            for value in secrets.values():
                message = message.replace(value, "••••")
            self.add_error(
                "settings" if field.startswith("settings") else "new_secrets", f"{field}: {message}"
            )
        self._secrets = secrets
        return cleaned

    def save(self, commit=True):
        self.instance.set_secrets(getattr(self, "_secrets", {}))
        return super().save(commit=commit)


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    change_form_template = "admin/integrations/connection/change_form.html"
    list_display = ("name", "provider", "workspace", "last_test_ok", "last_tested_at")
    list_filter = ("provider", "workspace")
    search_fields = ("name",)
    readonly_fields = (
        "stored_secrets",
        "created_at",
        "updated_at",
        "last_tested_at",
        "last_test_ok",
        "last_test_detail",
    )
    actions = ("test_connections",)

    def get_fields(self, request, obj=None):
        return (
            "workspace",
            "provider",
            "name",
            "settings",
            "new_secrets",
            *self.readonly_fields,
        )

    @admin.display(description="stored secrets")
    def stored_secrets(self, obj: Connection) -> str:
        shown = obj.redacted_secrets() if obj.pk else {}
        return ", ".join(f"{name}: {hint}" for name, hint in shown.items()) or "—"

    @admin.action(description="Test connection")
    def test_connections(self, request, queryset):
        for connection in queryset:
            self._test(request, connection)

    def _test(self, request, connection: Connection) -> None:
        ok, detail = test_connection(connection)
        self.message_user(
            request,
            f"{connection.name}: {'works' if ok else 'failed'}: {detail}",
            messages.SUCCESS if ok else messages.ERROR,
        )

    def get_urls(self):
        test = path(
            "<path:object_id>/test/",
            self.admin_site.admin_view(self.test_view),
            name="integrations_connection_test",
        )
        return [test, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "test_url": reverse("admin:integrations_connection_test", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def test_view(self, request, object_id):
        """The change page's "Test connection" button: test the stored connection."""
        connection = self.get_object(request, unquote(object_id))
        if connection is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if request.method != "POST" or not self.has_change_permission(request, connection):
            raise PermissionDenied
        self._test(request, connection)
        return redirect(reverse("admin:integrations_connection_change", args=[connection.pk]))


@admin.register(WebhookSecret)
class WebhookSecretAdmin(admin.ModelAdmin):
    """Listed by hint; a new secret is made (and shown once) through the API's rotate."""

    list_display = ("workflow", "hint", "created_at", "expires_at")
    fields = ("workflow", "hint", "created_at", "expires_at")
    readonly_fields = ("workflow", "hint", "created_at")

    def has_add_permission(self, request):
        return False


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(admin.ModelAdmin):
    """Addresses that unsubscribed from an email sent to them rather than to the
    run's contact; delete one to let it be emailed again."""

    list_display = ("email", "workspace", "created_at")
    list_filter = ("workspace",)
    search_fields = ("email",)
    fields = ("workspace", "email", "created_at")
    readonly_fields = ("created_at",)
