"""action.github: open a GitHub issue (assigned directly or by escalation level)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from automation.nodes.base import PermanentNodeError

from ..common import Issue, IssueNode, issue_schema
from . import client

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class GitHubIssue(IssueNode):
    type = "action.github"
    label = "Open a GitHub issue"
    description = "Opens an issue in a GitHub repository, e.g. a bug a customer reported."
    summary = "GitHub: {title}"
    provider = "github"
    config_schema = issue_schema(
        "github",
        "GitHub connection",
        "A GitHub login.",
        {
            "owner": {
                "type": "string",
                "title": "Owner",
                "description": "Empty: the connection's.",
            },
            "repo": {
                "type": "string",
                "title": "Repository",
                "description": "Empty: the connection's.",
            },
        },
    )

    @classmethod
    def fields(cls, issue: Issue) -> dict[str, Any]:
        return {
            "title": issue.title,
            "body": issue.description,
            "assignees": [issue.assignee] if issue.assignee else [],
            "labels": list(issue.labels),
        }

    @classmethod
    def create(
        cls, connection: Mapping[str, Any], fields: dict[str, Any], where: Mapping[str, Any]
    ) -> dict[str, Any]:
        defaults = connection.get("settings") or {}
        owner = where.get("owner") or defaults.get("owner") or ""
        repo = where.get("repo") or defaults.get("repo") or ""
        if not (NAME.match(owner) and NAME.match(repo)):
            raise PermanentNodeError(
                "repo: name the owner and repository (or set them on the connection)"
            )
        return client.create_issue(connection, owner=owner, repo=repo, **fields)
