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

from ..common import connection_field, connection_of, default_connection_id
from . import client, tracking

UNSUBSCRIBED = "unsubscribed"
DEFAULT_SENDER = default_connection_id("smtp")  # the workspace's sender


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


def _bare(address: str) -> str:
    """The address alone, in lower case: 'Ann <Ann@Example.com>' -> 'ann@example.com'."""
    return address.rsplit("<", 1)[-1].rstrip(">").strip().lower()


def _one_line(text: str) -> str:
    # A header is one line; a template that renders a newline must not inject headers.
    return " ".join(text.split())


class EmailAction(NodeType):
    type = "action.email"
    label = "Send email"
    category = "action"
    description = (
        "Sends an email, by default to the contact, e.g. 'Welcome, {{ contact.first_name }}'. "
        "HTML and text parts, an unsubscribe link (one-click, RFC 8058), open and click "
        "tracking (email_opened / email_clicked events). Contacts who unsubscribed are skipped."
    )
    summary = "Email: {subject}"
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
                "description": (
                    "Optional: without it the HTML part is made from the message. "
                    "Can use templates such as {{ contact.first_name }}."
                ),
                "format": "textarea",
            },
            "connection": connection_field(
                "Email sender",
                "smtp",
                "An SMTP sender of the workspace (its From address and server). Leave empty "
                "for the workspace's sender (the SMTP connection marked as such), or Cairn's "
                "default sender when there is none.",
            ),
            "unsubscribe_link": {
                "type": "boolean",
                "title": "Unsubscribe link",
                "description": "A footer link and one-click List-Unsubscribe headers.",
                "default": True,
            },
            "track_opens": {"type": "boolean", "title": "Track opens", "default": True},
            "track_clicks": {"type": "boolean", "title": "Track clicks", "default": True},
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

    @classmethod
    def connection_ids(cls, config: Mapping[str, Any]) -> list[str]:
        # No sender picked: the workspace's sender, if it marked one.
        return [str(config["connection"])] if config.get("connection") else [DEFAULT_SENDER]

    def _sender(self, ctx: NodeContext) -> dict[str, Any] | None:
        """The SMTP connection the mail goes through: the one picked, else the
        workspace's sender; None: Cairn's EMAIL_URL and DEFAULT_FROM_EMAIL."""
        if ctx.config.get("connection"):
            return connection_of(ctx, "connection", "smtp")
        default = ctx.connections.get(DEFAULT_SENDER)
        return dict(default) if default and default.get("provider") == "smtp" else None

    def _message(self, ctx: NodeContext, sender: dict[str, Any]) -> dict[str, Any]:
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
        reply_to = reply_to or sender.get("reply_to", "")
        html = render_field("html", config.get("html", ""), data)
        return {
            "to": parse_addresses("to", to_text),
            "subject": _one_line(render_field("subject", config["subject"], data)),
            "body": render_field("body", config["body"], data),
            "html": html or None,
            "from_email": config.get("from")
            or sender.get("from_email")
            or settings.DEFAULT_FROM_EMAIL,
            "reply_to": parse_addresses("reply_to", reply_to) if reply_to.strip() else [],
        }

    def _marketing(
        self, ctx: NodeContext, message: dict[str, Any], recipients: set[str], to_contact: bool
    ) -> dict[str, Any]:
        """HTML + text parts with the footer, tracked links, pixel and List-Unsubscribe.

        To the contact: the unsubscribe link unsubscribes the contact, and
        opens and clicks are the contact's engagement. To anyone else (`to`
        names another address): the link suppresses the addresses the message
        went to and leaves the contact alone, and nothing is tracked, since
        another reader's opens and clicks are not the contact's.
        """
        config = ctx.config
        message_id = client.message_id_for(ctx.idempotency_key or f"{ctx.run_id}-{ctx.node_id}")
        ref = {
            "w": ctx.workspace_id,
            "c": ctx.contact.get("id"),
            "m": message_id,
            "r": ctx.run_id,
            "n": ctx.node_id,
        }
        html = message["html"] or tracking.html_from_text(message["body"])
        text = message["body"]
        headers: dict[str, str] = {}
        unsubscribe = None
        if config.get("unsubscribe_link", True):
            if to_contact:
                unsubscribe = tracking.unsubscribe_url(ref)
            else:
                scope = {"w": ctx.workspace_id, "e": sorted(recipients), "m": message_id}
                unsubscribe = tracking.unsubscribe_url(scope)
            text = text.rstrip("\n") + f"\n\n--\nUnsubscribe: {unsubscribe}\n"
            headers["List-Unsubscribe"] = f"<{unsubscribe}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if to_contact and config.get("track_clicks", True):
            html = tracking.track_links(html, ref)
        html = tracking.with_footer_and_pixel(
            html,
            ref,
            unsubscribe=unsubscribe,
            pixel=to_contact and config.get("track_opens", True),
        )
        return {**message, "body": text, "html": html, "headers": headers}

    def run(self, ctx: NodeContext) -> NodeResult:
        sender = self._sender(ctx)
        message = self._message(ctx, (sender or {}).get("settings") or {})
        contact_email = str(ctx.contact.get("email") or "").lower()
        recipients = {_bare(address) for address in message["to"]}
        properties = ctx.contact.get("properties") or {}
        if properties.get(UNSUBSCRIBED) and contact_email in recipients:
            return NodeResult(
                output={
                    "skipped": True,
                    "reason": f"{contact_email} unsubscribed: no email is sent to them",
                    "subject": message["subject"],
                }
            )
        suppressed = client.suppressed(ctx.workspace_id, recipients)
        if suppressed:
            message["to"] = [a for a in message["to"] if _bare(a) not in suppressed]
            recipients -= suppressed
        if not recipients:
            return NodeResult(
                output={
                    "skipped": True,
                    "reason": f"{', '.join(sorted(suppressed))} unsubscribed: no email is "
                    "sent to them",
                    "subject": message["subject"],
                }
            )
        message = self._marketing(ctx, message, recipients, recipients == {contact_email})
        if ctx.dry_run:
            would = {
                "to": ", ".join(message["to"]),
                "subject": message["subject"],
                "body": message["body"],
                "from": message["from_email"],
                "html": message["html"],
            }
            return NodeResult(output={"dry_run": True, "would": would})
        sent = client.send_email(
            to=message["to"],
            subject=message["subject"],
            body=message["body"],
            html=message["html"],
            from_email=message["from_email"],
            reply_to=message["reply_to"],
            idempotency_key=ctx.idempotency_key or f"{ctx.run_id}-{ctx.node_id}",
            headers=message["headers"],
            connection=sender,
        )
        return NodeResult(
            output={
                "to": ", ".join(sent["to"]),
                "subject": message["subject"],
                "message_id": sent["message_id"],
            }
        )
