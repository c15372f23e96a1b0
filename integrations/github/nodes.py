"""action.github: open a GitHub issue (assigned directly or by escalation level)."""

from __future__ import annotations

import re
from typing import Any

from automation.nodes.base import NodeContext, PermanentNodeError
from automation.templating import render_field

from ..common import IssueNode, issue_schema, one_line
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

    def issue(self, ctx: NodeContext, level: str, assignee: str) -> dict[str, Any]:
        data = ctx.data
        return {
            "title": one_line(render_field("title", ctx.config["title"], data)),
            "body": render_field("description", ctx.config.get("description", ""), data),
            "assignees": [assignee] if assignee else [],
            "labels": list(ctx.config.get("labels") or []),
        }

    def create(self, ctx: NodeContext, connection: dict, issue: dict) -> dict[str, Any]:
        owner = ctx.config.get("owner") or connection["settings"].get("owner") or ""
        repo = ctx.config.get("repo") or connection["settings"].get("repo") or ""
        if not (NAME.match(owner) and NAME.match(repo)):
            raise PermanentNodeError(
                "repo: name the owner and repository (or set them on the connection)"
            )
        return client.create_issue(connection, owner=owner, repo=repo, **issue)
