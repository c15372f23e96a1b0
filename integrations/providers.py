"""What each provider's connection holds: settings (shown) and secrets (never shown back).

One entry per provider: a label, the JSON Schema of its settings and of its
secrets, and the client function that tests it ("Test connection").
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from jsonschema import Draft202012Validator

from . import destinations


def _string(title: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "title": title, **extra}


URL = {"format": "uri", "pattern": "^https?://"}
# The connection's credentials go to this site only (integrations.destinations).
SENT_ONLY_HERE = "Its credentials are sent only to this site (scheme, host and port)."


def _base_url(title: str, example: str = "", **extra: Any) -> dict[str, Any]:
    help_text = f"{example}. {SENT_ONLY_HERE}" if example else SENT_ONLY_HERE
    return _string(title, description=help_text, **URL, **extra)


@dataclass(frozen=True)
class Provider:
    key: str
    label: str
    settings: dict[str, Any]  # JSON Schema properties of the non-secret settings
    secrets: dict[str, Any]  # JSON Schema properties of the secrets
    required_settings: tuple[str, ...] = ()
    required_secrets: tuple[str, ...] = ()
    test: str = ""  # "module:function" taking the connection dict, returning a detail

    def schema(self, part: str) -> dict[str, Any]:
        properties = self.settings if part == "settings" else self.secrets
        required = self.required_settings if part == "settings" else self.required_secrets
        return {
            "type": "object",
            "properties": properties,
            "required": list(required),
            "additionalProperties": False,
        }

    def issues(self, part: str, value: Any, *, partial: bool = False) -> list[tuple[str, str]]:
        schema = self.schema(part)
        if partial:
            schema = {**schema, "required": []}
        validator = Draft202012Validator(schema)
        issues = [
            (".".join([part, *(str(p) for p in error.absolute_path)]), error.message)
            for error in validator.iter_errors(value)
        ]
        if part == "settings" and isinstance(value, dict):
            issues += destinations.settings_issues(self.key, value)
        return issues

    def run_test(self, connection: dict[str, Any]) -> str:
        module, function = self.test.split(":")
        return getattr(import_module(module), function)(connection)


PROVIDERS: dict[str, Provider] = {
    provider.key: provider
    for provider in [
        Provider(
            "smtp",
            "Email sender (SMTP)",
            settings={
                "host": _string("SMTP host"),
                "port": {"type": "integer", "minimum": 1, "maximum": 65535, "title": "Port"},
                "username": _string("User name"),
                "security": {"enum": ["starttls", "ssl", "none"], "title": "Security"},
                "from_email": _string("From", description="e.g. Acme <hello@acme.example>"),
                "reply_to": _string("Reply to"),
                "workspace_default": {
                    "type": "boolean",
                    "title": "The workspace's sender",
                    "description": (
                        "Emails whose step picks no sender go out through this connection "
                        "(one per workspace: marking another moves it)."
                    ),
                },
            },
            secrets={"password": _string("Password")},
            required_settings=("host", "port", "from_email"),
            test="integrations.email.client:test_connection",
        ),
        Provider(
            "slack",
            "Slack",
            settings={"base_url": _base_url("API base URL", default="https://slack.com/api")},
            secrets={"bot_token": _string("Bot token", description="xoxb-…")},
            required_secrets=("bot_token",),
            test="integrations.slack.client:test_connection",
        ),
        Provider(
            "jira",
            "Jira",
            settings={
                "base_url": _base_url("Site URL", "e.g. https://acme.atlassian.net"),
                "email": _string("Account email"),
                "project_key": _string("Default project key"),
            },
            secrets={"api_token": _string("API token")},
            required_settings=("base_url", "email"),
            required_secrets=("api_token",),
            test="integrations.jira.client:test_connection",
        ),
        Provider(
            "github",
            "GitHub",
            settings={
                "base_url": _base_url("API base URL", default="https://api.github.com"),
                "owner": _string("Default owner"),
                "repo": _string("Default repository"),
            },
            secrets={"token": _string("Token", description="A fine-grained personal token")},
            required_secrets=("token",),
            test="integrations.github.client:test_connection",
        ),
        Provider(
            "linear",
            "Linear",
            settings={
                "base_url": _base_url("API base URL", default="https://api.linear.app"),
                "team_id": _string("Default team id"),
            },
            secrets={"api_key": _string("API key")},
            required_secrets=("api_key",),
            test="integrations.linear.client:test_connection",
        ),
        Provider(
            "mixpanel",
            "Mixpanel",
            settings={
                "base_url": _base_url("API base URL", default="https://api.mixpanel.com"),
                "project_id": _string("Project id"),
                "username": _string("Service account user name"),
            },
            secrets={"secret": _string("Service account secret")},
            required_settings=("project_id", "username"),
            required_secrets=("secret",),
            test="integrations.mixpanel.client:test_connection",
        ),
        Provider(
            "sms",
            "SMS gateway (Twilio-compatible)",
            settings={
                "base_url": _base_url("API base URL", default="https://api.twilio.com"),
                "account_sid": _string("Account SID"),
                "from_number": _string("From number", description="E.164, e.g. +15005550006"),
            },
            secrets={"auth_token": _string("Auth token")},
            required_settings=("account_sid", "from_number"),
            required_secrets=("auth_token",),
            test="integrations.sms.client:test_connection",
        ),
        Provider(
            "webpush",
            "Web push (VAPID)",
            settings={
                "subject": _string("Contact", description="mailto:ops@acme.example"),
                "public_key": _string("VAPID public key"),
            },
            secrets={"private_key": _string("VAPID private key")},
            required_settings=("subject",),
            required_secrets=("private_key",),
            test="integrations.push.client:test_connection",
        ),
        Provider(
            "http",
            "HTTP (generic auth)",
            settings={
                "hosts": {
                    "type": "array",
                    "title": "Sent only to",
                    "description": (
                        "The sites this connection's credentials may be sent to, e.g. "
                        "https://api.example.com (a bare name such as api.example.com means "
                        "https). Scheme, host and port must match exactly; the path does not "
                        "matter. A webhook step using this connection can call only these: "
                        "any other address is refused when the workflow is published and "
                        "when the step runs."
                    ),
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 1,
                },
                "auth": {
                    "enum": ["bearer", "basic", "header", "signing"],
                    "title": "Auth",
                    "description": "signing: Standard Webhooks signatures with the secret",
                },
                "username": _string("User name (basic)"),
                "header_name": _string("Header name", description="e.g. X-API-Key"),
                "test_url": _string("URL to test with (GET)", **URL),
            },
            secrets={
                "token": _string("Bearer token"),
                "password": _string("Password (basic)"),
                "header_value": _string("Header value"),
                "signing_secret": _string("Signing secret", description="whsec_…"),
            },
            required_settings=("hosts", "auth"),
            test="integrations.webhook.client:test_connection",
        ),
    ]
}


def provider_choices() -> list[tuple[str, str]]:
    return [(p.key, p.label) for p in PROVIDERS.values()]
