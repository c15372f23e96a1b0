"""action.sms: send a text message through a Twilio-compatible gateway."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from automation.nodes.base import (
    ConfigIssue,
    NodeContext,
    NodeResult,
    NodeType,
    PermanentNodeError,
)
from automation.templating import render_field, template_issues

from ..common import connection_field, one_line, required_connection, template_field
from . import client

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
OPTED_OUT = "sms_opt_out"


class SendSms(NodeType):
    type = "action.sms"
    label = "Send an SMS"
    category = "action"
    description = "Texts the contact (their 'phone' property, E.164) through your SMS gateway."
    summary = "SMS: {body}"
    has_side_effects = True
    template_fields = ("to", "body")
    config_schema = {
        "type": "object",
        "properties": {
            "connection": connection_field("SMS connection", "sms"),
            "to": template_field("To", "Empty: the contact's phone property, e.g. +447700900123."),
            "body": template_field("Message", "", minLength=1, maxLength=1600, format="textarea"),
        },
        "required": ["connection", "body"],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return template_issues(config, cls.template_fields)

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        properties = ctx.contact.get("properties") or {}
        if ctx.config.get("to"):
            to = one_line(render_field("to", ctx.config["to"], data))
        else:
            to = str(properties.get("phone") or "").replace(" ", "")
        if not E164.match(to):
            raise PermanentNodeError(f"to: {to!r} is not a phone number in E.164 form (+4477…)")
        body = render_field("body", ctx.config["body"], data)
        if properties.get(OPTED_OUT):
            return NodeResult(output={"skipped": True, "reason": f"{to} opted out of SMS"})
        if ctx.dry_run:
            return NodeResult(output={"dry_run": True, "would": {"to": to, "body": body}})
        sent = client.send_sms(required_connection(ctx, "connection", "sms"), to, body)
        return NodeResult(output={"to": to, **sent})
