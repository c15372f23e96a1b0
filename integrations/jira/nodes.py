"""action.jira: create a Jira issue (assigned directly or by escalation level)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automation.nodes.base import PermanentNodeError

from ..common import Issue, IssueNode, issue_schema
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

    @classmethod
    def fields(cls, issue: Issue) -> dict[str, Any]:
        return {
            "summary": issue.title,
            "description": issue.description,
            "issue_type": issue.issue_type or "Task",
            "assignee": issue.assignee,
            "labels": list(issue.labels),
        }

    @classmethod
    def create(
        cls, connection: Mapping[str, Any], fields: dict[str, Any], where: Mapping[str, Any]
    ) -> dict[str, Any]:
        project = where.get("project") or (connection.get("settings") or {}).get("project_key")
        if not project:
            raise PermanentNodeError("project: name a project key (or set one on the connection)")
        return client.create_issue(connection, project=project, **fields)
