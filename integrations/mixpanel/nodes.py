"""action.mixpanel: track a workflow milestone as a Mixpanel event."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from automation.nodes.base import ConfigIssue, NodeContext, NodeResult, NodeType
from automation.templating import render_field, template_issues

from ..common import (
    connection_field,
    one_line,
    required_connection,
    template_field,
    visit_started_at,
)
from . import client


class MixpanelTrack(NodeType):
    type = "action.mixpanel"
    label = "Track in Mixpanel"
    category = "action"
    description = "Sends a Mixpanel event for the contact, e.g. 'Onboarding completed'."
    summary = "Mixpanel: {event}"
    has_side_effects = True
    template_fields = ("event", "properties")
    config_schema = {
        "type": "object",
        "properties": {
            "connection": connection_field("Mixpanel connection", "mixpanel"),
            "event": template_field("Event name", "e.g. Onboarding completed.", minLength=1),
            "properties": {
                "type": "object",
                "title": "Properties",
                "description": "Values can use templates such as {{ contact.first_name }}.",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            },
        },
        "required": ["connection", "event"],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return template_issues(config, cls.template_fields)

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        name = one_line(render_field("event", ctx.config["event"], data))
        extra = render_field("properties", dict(ctx.config.get("properties") or {}), data)
        contact = ctx.contact
        key = ctx.idempotency_key or f"{ctx.run_id}:{ctx.node_id}"
        event = {
            "event": name,
            "properties": {
                **extra,
                # The visit's first attempt: a retry sends the very same event,
                # which Mixpanel deduplicates ($insert_id, time, name, distinct_id).
                "time": int(visit_started_at(ctx).timestamp() * 1000),
                "distinct_id": str(
                    contact.get("external_id") or contact.get("email") or contact.get("id")
                ),
                # Mixpanel drops a second event with the same $insert_id: retries are safe.
                "$insert_id": hashlib.sha256(key.encode()).hexdigest()[:32],
                "workflow_id": ctx.workflow_id,
                "run_id": ctx.run_id,
                "node_id": ctx.node_id,
            },
        }
        if ctx.dry_run:
            return NodeResult(output={"dry_run": True, "would": event})
        sent = client.track(required_connection(ctx, "connection", "mixpanel"), event)
        return NodeResult(output={"event": name, **sent})
