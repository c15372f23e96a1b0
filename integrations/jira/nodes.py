"""action.jira: create a Jira issue (assigned directly or by escalation level)."""

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


class JiraIssue(NodeType):
    type = "action.jira"
    label = "Create a Jira issue"
    category = "action"
    description = "Opens a Jira issue, e.g. an L2 escalation for a customer stuck in onboarding."
    summary = "Jira: {title}"
    has_side_effects = True
    template_fields = ("title", "description", "assignee", "level")
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

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return template_issues(config, cls.template_fields)

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        level, assignee = assignee_for(ctx)
        issue = {
            "summary": one_line(render_field("title", ctx.config["title"], data)),
            "description": render_field("description", ctx.config.get("description", ""), data),
            "issue_type": ctx.config.get("issue_type") or "Task",
            "assignee": assignee,
            "labels": list(ctx.config.get("labels") or []),
        }
        if ctx.dry_run:
            return NodeResult(output={"dry_run": True, "would": {**issue, "level": level}})
        connection = required_connection(ctx, "connection", "jira")
        project = ctx.config.get("project") or connection["settings"].get("project_key")
        if not project:
            raise PermanentNodeError("project: name a project key (or set one on the connection)")
        created = client.create_issue(connection, project=project, **issue)
        return NodeResult(output={**created, "assignee": assignee, "level": level})
