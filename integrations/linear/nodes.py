"""action.linear: create a Linear issue (assigned directly or by escalation level)."""

from __future__ import annotations

from typing import Any

from automation.nodes.base import NodeContext, PermanentNodeError
from automation.templating import render_field

from ..common import IssueNode, issue_schema, one_line
from . import client

# Linear priorities: 1 urgent, 2 high, 3 normal, 4 low. An escalation level sets one.
PRIORITY_BY_LEVEL = {"L1": 3, "L2": 2, "L3": 1}


class LinearIssue(IssueNode):
    type = "action.linear"
    label = "Create a Linear issue"
    description = "Creates a Linear issue; an escalation level (L1-L3) sets assignee and priority."
    summary = "Linear: {title}"
    provider = "linear"
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

    def issue(self, ctx: NodeContext, level: str, assignee: str) -> dict[str, Any]:
        data = ctx.data
        return {
            "title": one_line(render_field("title", ctx.config["title"], data)),
            "description": render_field("description", ctx.config.get("description", ""), data),
            "assignee_id": assignee,
            "priority": PRIORITY_BY_LEVEL.get(level),
        }

    def create(self, ctx: NodeContext, connection: dict, issue: dict) -> dict[str, Any]:
        team_id = ctx.config.get("team_id") or connection["settings"].get("team_id")
        if not team_id:
            raise PermanentNodeError("team_id: name a team (or set one on the connection)")
        return client.create_issue(connection, team_id=team_id, **issue)
