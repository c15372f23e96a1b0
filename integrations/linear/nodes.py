"""action.linear: create a Linear issue (assigned directly or by escalation level)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automation.nodes.base import PermanentNodeError

from ..common import Issue, IssueNode, issue_schema
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

    @classmethod
    def fields(cls, issue: Issue) -> dict[str, Any]:
        return {
            "title": issue.title,
            "description": issue.description,
            "assignee_id": issue.assignee,
            "priority": PRIORITY_BY_LEVEL.get(issue.level),
        }

    @classmethod
    def create(
        cls, connection: Mapping[str, Any], fields: dict[str, Any], where: Mapping[str, Any]
    ) -> dict[str, Any]:
        team_id = where.get("team_id") or (connection.get("settings") or {}).get("team_id")
        if not team_id:
            raise PermanentNodeError("team_id: name a team (or set one on the connection)")
        return client.create_issue(connection, team_id=team_id, **fields)
