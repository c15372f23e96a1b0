"""Shapes of connections (stored credentials) and workflow webhook signing secrets.

A connection's secrets are write-only: what comes back is a redacted view
(`••••` and at most the last four characters of a long secret).
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any

from rest_framework import serializers

from integrations.http import breaker
from integrations.models import Connection, WebhookSecret
from integrations.providers import PROVIDERS

from .errors import Conflict


class ConnectionSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True, help_text="Put this in a node's connection field.")
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=(
            "Write: the secrets by name (a secret left out keeps its value; an empty string "
            "removes it). Read: a redacted view, never the secret itself."
        ),
    )
    settings = serializers.DictField(required=False, default=dict)
    provider = serializers.ChoiceField(choices=[(p.key, p.label) for p in PROVIDERS.values()])

    class Meta:
        model = Connection
        fields = [
            "id",
            "name",
            "provider",
            "settings",
            "secrets",
            "created_at",
            "updated_at",
            "last_tested_at",
            "last_test_ok",
            "last_test_detail",
            "circuit_open_until",
        ]
        read_only_fields = [
            "id",
            "created_at",
            "updated_at",
            "last_tested_at",
            "last_test_ok",
            "last_test_detail",
        ]

    circuit_open_until = serializers.SerializerMethodField(
        help_text="While set, the service failed too often: calls wait until then (circuit "
        "breaker) and the runs using it wait too."
    )

    def to_representation(self, instance: Connection) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["secrets"] = instance.redacted_secrets()
        return data

    def get_circuit_open_until(self, instance: Connection) -> str | None:
        until = breaker.open_until(f"connection:{instance.pk}")
        if until is None or until <= time.time():
            return None
        return datetime.fromtimestamp(until, tz=UTC).isoformat()

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["provider"].read_only = True
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: Connection | None = self.instance
        provider = PROVIDERS[attrs.get("provider") or instance.provider]
        settings = {**(instance.settings if instance else {}), **attrs.get("settings", {})}
        settings = {k: v for k, v in settings.items() if v not in (None, "")}
        current = instance.secrets if instance else {}
        secrets = {**current, **attrs.get("secrets", {})}
        secrets = {k: v for k, v in secrets.items() if v}
        errors: dict[str, list[str]] = {}
        for field, message in provider.issues("settings", settings) + provider.issues(
            "secrets", secrets
        ):
            errors.setdefault(field, []).append(_no_values(message, secrets))
        if errors:
            raise serializers.ValidationError(errors)
        attrs["settings"] = settings
        attrs["secrets"] = secrets
        return attrs

    def create(self, validated: dict[str, Any]) -> Connection:
        secrets = validated.pop("secrets")
        connection = Connection(workspace=self.context["request"].workspace, **validated)
        connection.set_secrets(secrets)
        _save_unique(connection)
        return connection

    def update(self, instance: Connection, validated: dict[str, Any]) -> Connection:
        secrets = validated.pop("secrets")
        for field, value in validated.items():
            setattr(instance, field, value)
        instance.set_secrets(secrets)
        _save_unique(instance)
        return instance


def _no_values(message: str, secrets: dict[str, Any]) -> str:
    # jsonschema quotes the offending value; a secret must not come back in an error.
    for value in secrets.values():
        if isinstance(value, str) and value and value in message:
            message = message.replace(value, "••••")
    return message


def _save_unique(connection: Connection) -> None:
    from django.db import IntegrityError, transaction

    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:
        raise Conflict(
            "name", f"this workspace already has a {connection.provider} connection named so"
        ) from None


def connection_request_schemas(generic: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """POST /connections/ in the schema: one component per provider, with that
    provider's settings and secrets (what ConnectionSerializer.validate checks), and
    `ConnectionRequest` one of them by `provider`. A required value may not be empty:
    an empty value counts as left out."""

    def part(provider, name: str) -> dict[str, Any]:
        schema = copy.deepcopy(provider.schema(name))
        for key in schema["required"]:
            field = schema["properties"].get(key, {})
            if field.get("type") == "string":
                field.setdefault("minLength", 1)
        return schema

    components: dict[str, dict[str, Any]] = {}
    mapping: dict[str, str] = {}
    for provider in PROVIDERS.values():
        stem = "".join(word.capitalize() for word in provider.key.split("_"))
        name = f"{stem}ConnectionRequest"
        components[f"{stem}ConnectionSettings"] = part(provider, "settings")
        components[f"{stem}ConnectionSecrets"] = part(provider, "secrets")
        required = ["name", "provider"]
        required += ["settings"] if provider.required_settings else []
        required += ["secrets"] if provider.required_secrets else []
        components[name] = {
            "type": "object",
            "description": f"A {provider.label} connection.",
            "properties": {
                **generic["properties"],
                "provider": {"type": "string", "enum": [provider.key]},
                "settings": {"$ref": f"#/components/schemas/{stem}ConnectionSettings"},
                "secrets": {"$ref": f"#/components/schemas/{stem}ConnectionSecrets"},
            },
            "required": required,
        }
        mapping[provider.key] = f"#/components/schemas/{name}"
    components["ConnectionRequest"] = {
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "provider", "mapping": mapping},
    }
    return components


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class WebhookSecretSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookSecret
        fields = ["id", "hint", "created_at", "expires_at"]
        read_only_fields = fields


class WebhookSecretCreatedSerializer(WebhookSecretSerializer):
    secret = serializers.CharField(help_text="Shown once: give it to the sender now.")

    class Meta(WebhookSecretSerializer.Meta):
        fields = [*WebhookSecretSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookSecretRotateSerializer(serializers.Serializer):
    overlap_hours = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=24 * 30,
        help_text="How long the current secrets keep working "
        "(default: WEBHOOK_SECRET_OVERLAP_HOURS).",
    )
