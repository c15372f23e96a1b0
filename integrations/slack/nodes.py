"""action.slack: post a message to a Slack channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automation.nodes.base import ConfigIssue, NodeContext, NodeResult, NodeType
from automation.templating import render_field, template_issues

from ..common import connection_field, one_line, required_connection, template_field
from . import client


class SlackMessage(NodeType):
    type = "action.slack"
    label = "Send a Slack message"
    category = "action"
    description = "Posts a message to a Slack channel, e.g. to tell sales about a hot lead."
    summary = "Slack: {channel}"
    has_side_effects = True
    template_fields = ("channel", "text")
    config_schema = {
        "type": "object",
        "properties": {
            "connection": connection_field("Slack connection", "slack"),
            "channel": template_field(
                "Channel", "A channel name (#sales) or id (C0123456789).", minLength=1
            ),
            "text": template_field("Message", "", minLength=1, format="textarea"),
        },
        "required": ["connection", "channel", "text"],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return template_issues(config, cls.template_fields)

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        channel = one_line(render_field("channel", ctx.config["channel"], data))
        text = render_field("text", ctx.config["text"], data)
        if ctx.dry_run:
            return NodeResult(output={"dry_run": True, "would": {"channel": channel, "text": text}})
        connection = required_connection(ctx, "connection", "slack")
        sent = client.post_message(connection, channel, text)
        return NodeResult(output={**sent, "text": text})
