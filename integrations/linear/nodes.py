"""action.linear: create a Linear issue (assigned directly or by escalation level)."""

from __future__ import annotations

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

from ..common import assignee_for, issue_schema, one_line, required_connection
from . import client

# Linear priorities: 1 urgent, 2 high, 3 normal, 4 low. An escalation level sets one.
PRIORITY_BY_LEVEL = {"L1": 3, "L2": 2, "L3": 1}


class LinearIssue(NodeType):
    type = "action.linear"
    label = "Create a Linear issue"
    category = "action"
    description = "Creates a Linear issue; an escalation level (L1-L3) sets assignee and priority."
    summary = "Linear: {title}"
    has_side_effects = True
    template_fields = ("title", "description", "assignee", "level")
    config_schema = issue_schema(
        "linear",
        "Linear connection",
        "A Linear user id.",
        {
            "team_id": {
                "type": "string",
                "title": "Team id",
                "description": "Empty: the connection's.",
            }
        },
    )

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return template_issues(config, cls.template_fields)

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        level, assignee = assignee_for(ctx)
        issue = {
            "title": one_line(render_field("title", ctx.config["title"], data)),
            "description": render_field("description", ctx.config.get("description", ""), data),
            "assignee_id": assignee,
            "priority": PRIORITY_BY_LEVEL.get(level),
        }
        if ctx.dry_run:
            return NodeResult(output={"dry_run": True, "would": {**issue, "level": level}})
        connection = required_connection(ctx, "connection", "linear")
        team_id = ctx.config.get("team_id") or connection["settings"].get("team_id")
        if not team_id:
            raise PermanentNodeError("team_id: name a team (or set one on the connection)")
        created = client.create_issue(connection, team_id=team_id, **issue)
        return NodeResult(output={**created, "assignee": assignee, "level": level})
