"""action.jira: create a Jira issue (assigned directly or by escalation level)."""

from __future__ import annotations

from typing import Any

from automation.nodes.base import NodeContext, PermanentNodeError
from automation.templating import render_field

from ..common import IssueNode, issue_schema, one_line
from . import client


class JiraIssue(IssueNode):
    type = "action.jira"
    label = "Create a Jira issue"
    description = "Opens a Jira issue, e.g. an L2 escalation for a customer stuck in onboarding."
    summary = "Jira: {title}"
    provider = "jira"
    config_schema = issue_schema(
        "jira",
        "Jira connection",
        "A Jira accountId.",
        {
            "project": {
                "type": "string",
                "title": "Project key",
                "description": "e.g. OPS; empty: the connection's default project.",
            },
            "issue_type": {"type": "string", "title": "Issue type", "default": "Task"},
        },
    )

    def issue(self, ctx: NodeContext, level: str, assignee: str) -> dict[str, Any]:
        data = ctx.data
        return {
            "summary": one_line(render_field("title", ctx.config["title"], data)),
            "description": render_field("description", ctx.config.get("description", ""), data),
            "issue_type": ctx.config.get("issue_type") or "Task",
            "assignee": assignee,
            "labels": list(ctx.config.get("labels") or []),
        }

    def create(self, ctx: NodeContext, connection: dict, issue: dict) -> dict[str, Any]:
        project = ctx.config.get("project") or connection["settings"].get("project_key")
        if not project:
            raise PermanentNodeError("project: name a project key (or set one on the connection)")
        return client.create_issue(connection, project=project, **issue)
