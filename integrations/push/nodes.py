"""action.push: a web push notification to the contact's browser subscription."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from automation.nodes.base import ConfigIssue, NodeContext, NodeResult, NodeType
from automation.templating import render_field, template_issues

from ..common import connection_field, one_line, required_connection, template_field
from . import client

SUBSCRIPTION_PROPERTY = "push_subscription"


class WebPush(NodeType):
    type = "action.push"
    label = "Send a web push"
    category = "action"
    description = (
        "Shows a browser notification to the contact (their push_subscription property, "
        "as the browser's PushSubscription JSON)."
    )
    summary = "Push: {title}"
    has_side_effects = True
    template_fields = ("title", "body", "url")
    config_schema = {
        "type": "object",
        "properties": {
            "connection": connection_field("Web push (VAPID) connection", "webpush"),
            "title": template_field("Title", "", minLength=1),
            "body": template_field("Text", ""),
            "url": template_field("Opens", "The page a click opens."),
            "ttl_seconds": {
                "type": "integer",
                "minimum": 0,
                "maximum": 2419200,
                "default": 86400,
                "title": "Keep trying for (seconds)",
            },
        },
        "required": ["connection", "title"],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return template_issues(config, cls.template_fields)

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        payload = {
            "title": one_line(render_field("title", ctx.config["title"], data)),
            "body": render_field("body", ctx.config.get("body", ""), data),
            "url": one_line(render_field("url", ctx.config.get("url", ""), data)),
        }
        subscription = (ctx.contact.get("properties") or {}).get(SUBSCRIPTION_PROPERTY)
        if isinstance(subscription, str):
            try:
                subscription = json.loads(subscription)
            except ValueError:
                subscription = None
        if not isinstance(subscription, dict):
            return NodeResult(
                output={"skipped": True, "reason": "the contact has no push subscription"}
            )
        if ctx.dry_run:
            return NodeResult(output={"dry_run": True, "would": payload})
        connection = required_connection(ctx, "connection", "webpush")
        sent = client.send_push(
            connection, subscription, payload, ttl=int(ctx.config.get("ttl_seconds", 86400))
        )
        return NodeResult(output={**payload, **sent})
