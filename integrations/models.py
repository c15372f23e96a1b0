"""Stored credentials (connections) and inbound webhook signing secrets.

Secrets are encrypted at rest (integrations.crypto, Fernet keys from the
environment) and never shown back in full: `redacted()` is what the API and
the admin show. Workspaces and workflows are reached through string foreign
keys, like automation/ does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from . import crypto, standard_webhooks
from .providers import PROVIDERS, provider_choices


class Connection(models.Model):
    """A workspace's credentials for one provider (a Slack bot, an SMTP sender, …)."""

    workspace = models.ForeignKey("builder.Workspace", on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=20, choices=provider_choices(), db_index=True)
    name = models.CharField(max_length=200)
    settings = models.JSONField(default=dict, blank=True, help_text="Not secret; shown as is.")
    encrypted_secrets = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["provider", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "provider", "name"], name="one_connection_name_per_provider"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        if self.is_workspace_default:
            # One workspace sender: marking this one unmarks the others.
            for other in Connection.objects.filter(
                workspace_id=self.workspace_id,
                provider=self.provider,
                settings__workspace_default=True,
            ).exclude(pk=self.pk):
                other.settings = {
                    k: v for k, v in other.settings.items() if k != "workspace_default"
                }
                super(Connection, other).save(update_fields=["settings", "updated_at"])

    @property
    def secrets(self) -> dict[str, Any]:
        return crypto.decrypt(self.encrypted_secrets)

    def set_secrets(self, secrets: dict[str, Any]) -> None:
        self.encrypted_secrets = crypto.encrypt({k: v for k, v in secrets.items() if v})

    def redacted_secrets(self) -> dict[str, str]:
        return {name: crypto.hint(value) for name, value in self.secrets.items()}

    @property
    def is_workspace_default(self) -> bool:
        return bool((self.settings or {}).get("workspace_default"))

    @classmethod
    def workspace_default(cls, workspace_id, provider: str) -> Connection | None:
        """The connection a workspace marked as its default of a provider (its sender)."""
        return (
            cls.objects.filter(
                workspace_id=workspace_id, provider=provider, settings__workspace_default=True
            )
            .order_by("pk")
            .first()
        )

    def resolved(self) -> dict[str, Any]:
        """The connection as a node sees it (ctx.connections): decrypted, with defaults."""
        spec = PROVIDERS[self.provider]
        defaults = {
            name: schema["default"] for name, schema in spec.settings.items() if "default" in schema
        }
        return {
            "id": str(self.pk),
            "provider": self.provider,
            "name": self.name,
            "settings": {**defaults, **self.settings},
            "secrets": self.secrets,
        }


class WebhookSecret(models.Model):
    """A signing secret of one workflow's inbound webhook (Standard Webhooks).

    Rotating adds a new secret and gives the current ones an end
    (`expires_at`), so senders can switch over during the overlap.
    """

    workflow = models.ForeignKey(
        "builder.Workflow", on_delete=models.CASCADE, related_name="webhook_secrets"
    )
    encrypted_secret = models.TextField(editable=False)
    hint = models.CharField(max_length=20, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"signing secret {self.hint} of {self.workflow_id}"

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.encrypted_secret)["secret"]

    @classmethod
    def active(cls, workflow_id) -> models.QuerySet:
        now = timezone.now()
        return cls.objects.filter(workflow_id=workflow_id).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )

    @classmethod
    def rotate(cls, workflow_id, *, overlap: timedelta | None = None) -> tuple[WebhookSecret, str]:
        """A new secret (returned in full, once); the current ones end after `overlap`."""
        if overlap is None:
            overlap = timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
        now = timezone.now()
        cls.objects.filter(workflow_id=workflow_id).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now + overlap)
        ).update(expires_at=now + overlap)
        raw = standard_webhooks.new_secret()
        created = cls.objects.create(
            workflow_id=workflow_id,
            encrypted_secret=crypto.encrypt({"secret": raw}),
            hint=crypto.hint(raw),
        )
        return created, raw


class InboundDelivery(models.Model):
    """A webhook-id already received for a workflow: a replay is refused."""

    workflow = models.ForeignKey("builder.Workflow", on_delete=models.CASCADE, related_name="+")
    webhook_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "webhook_id"], name="one_delivery_per_webhook_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} for {self.workflow_id}"


class EmailSuppression(models.Model):
    """An address that asked a workspace for no more email.

    It is how someone who is not the run's contact (an email step's `to`
    naming another address) unsubscribes: the link in that message suppresses
    their address, never the contact. Every email step skips suppressed
    recipients. Delete a row to let the address be emailed again.
    """

    workspace = models.ForeignKey("builder.Workspace", on_delete=models.CASCADE, related_name="+")
    email = models.CharField(max_length=254, help_text="Lower case.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "email"], name="one_suppression_per_email")
        ]

    def __str__(self) -> str:
        return self.email

    @classmethod
    def suppress(cls, workspace_id, addresses) -> None:
        for address in {str(a).strip().lower() for a in addresses if a}:
            cls.objects.get_or_create(workspace_id=workspace_id, email=address)

    @classmethod
    def among(cls, workspace_id, addresses) -> set[str]:
        """The ones of `addresses` (lower case) this workspace may not email."""
        wanted = {str(a).strip().lower() for a in addresses if a}
        if not wanted or not workspace_id:
            return set()
        return set(
            cls.objects.filter(workspace_id=workspace_id, email__in=wanted).values_list(
                "email", flat=True
            )
        )
