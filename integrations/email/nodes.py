"""action.email: send a templated email to the contact (or another address)."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import formataddr, getaddresses
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from automation.nodes.base import (
    ConfigIssue,
    NodeContext,
    NodeResult,
    NodeType,
    PermanentNodeError,
)
from automation.templating import render_field, template_issues

from . import client


def parse_addresses(field: str, text: str) -> list[str]:
    """Comma-separated addresses ("Ann <ann@example.com>, bob@example.com"), each checked."""
    addresses = []
    for name, address in getaddresses([text]):
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError as error:
            raise PermanentNodeError(
                f"{field}: {address!r} is not a valid email address"
            ) from error
        addresses.append(formataddr((name, address)) if name else address)
    if text.strip() and not addresses:
        raise PermanentNodeError(f"{field}: {text.strip()!r} is not a valid email address")
    return addresses


def _one_line(text: str) -> str:
    # A header is one line; a template that renders a newline must not inject headers.
    return " ".join(text.split())


class EmailAction(NodeType):
    type = "action.email"
    label = "Send email"
    summary = "Email: {subject}"
    category = "action"
    description = (
        "Sends an email, by default to the contact, e.g. 'Welcome, {{ contact.first_name }}'."
    )
    handles = ("out",)
    has_side_effects = True
    template_fields = ("to", "subject", "body", "html", "reply_to")
    config_schema = {
        "type": "object",
        "properties": {
            "subject": {
                "type": "string",
                "minLength": 1,
                "title": "Subject",
                "description": "Can use templates such as {{ contact.first_name }}.",
            },
            "body": {
                "type": "string",
                "minLength": 1,
                "title": "Message",
                "description": "Plain text. Can use templates such as {{ contact.first_name }}.",
                "format": "textarea",
            },
            "to": {
                "type": "string",
                "title": "To",
                "description": "Leave empty to send to the contact's email address.",
            },
            "from": {
                "type": "string",
                "title": "From",
                "description": "Leave empty to use the workspace's default sender.",
            },
            "reply_to": {
                "type": "string",
                "title": "Reply to",
                "description": "Where replies go, if not to the sender.",
            },
            "html": {
                "type": "string",
                "title": "HTML version",
                "description": "Optional. Shown by mail apps that display HTML.",
                "format": "textarea",
            },
        },
        "required": ["subject", "body"],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        issues = template_issues(config, cls.template_fields)
        sender = config.get("from")
        if sender:
            try:
                senders = parse_addresses("from", sender)
            except PermanentNodeError:
                senders = []
            if len(senders) != 1:
                issues.append(ConfigIssue("from", f"{sender!r} is not one email address", "email"))
        return issues

    def _message(self, ctx: NodeContext) -> dict[str, Any]:
        data = ctx.data
        config = ctx.config
        if config.get("to"):
            to_text = render_field("to", config["to"], data)
            if not to_text.strip():
                raise PermanentNodeError("to: the address rendered empty")
        else:
            to_text = str(ctx.contact.get("email") or "")
            if not to_text.strip():
                raise PermanentNodeError("to: the contact has no email address")
        reply_to = render_field("reply_to", config.get("reply_to", ""), data)
        html = render_field("html", config.get("html", ""), data)
        return {
            "to": parse_addresses("to", to_text),
            "subject": _one_line(render_field("subject", config["subject"], data)),
            "body": render_field("body", config["body"], data),
            "html": html or None,
            "from_email": config.get("from") or settings.DEFAULT_FROM_EMAIL,
            "reply_to": parse_addresses("reply_to", reply_to) if reply_to.strip() else [],
        }

    def run(self, ctx: NodeContext) -> NodeResult:
        message = self._message(ctx)
        if ctx.dry_run:
            would = {
                "to": ", ".join(message["to"]),
                "subject": message["subject"],
                "body": message["body"],
                "from": message["from_email"],
            }
            if message["html"]:
                would["html"] = message["html"]
            return NodeResult(output={"dry_run": True, "would": would})
        sent = client.send_email(
            to=message["to"],
            subject=message["subject"],
            body=message["body"],
            html=message["html"],
            from_email=message["from_email"],
            reply_to=message["reply_to"],
            idempotency_key=ctx.idempotency_key or f"{ctx.run_id}-{ctx.node_id}",
        )
        return NodeResult(
            output={
                "to": ", ".join(sent["to"]),
                "subject": message["subject"],
                "message_id": sent["message_id"],
            }
        )
