"""action.github: open a GitHub issue (assigned directly or by escalation level)."""

from __future__ import annotations

import re
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

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class GitHubIssue(NodeType):
    type = "action.github"
    label = "Open a GitHub issue"
    category = "action"
    description = "Opens an issue in a GitHub repository, e.g. a bug a customer reported."
    summary = "GitHub: {title}"
    has_side_effects = True
    template_fields = ("title", "description", "assignee", "level")
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
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return template_issues(config, cls.template_fields)

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        level, assignee = assignee_for(ctx)
        issue = {
            "title": one_line(render_field("title", ctx.config["title"], data)),
            "body": render_field("description", ctx.config.get("description", ""), data),
            "assignees": [assignee] if assignee else [],
            "labels": list(ctx.config.get("labels") or []),
        }
        if ctx.dry_run:
            return NodeResult(output={"dry_run": True, "would": {**issue, "level": level}})
        connection = required_connection(ctx, "connection", "github")
        owner = ctx.config.get("owner") or connection["settings"].get("owner") or ""
        repo = ctx.config.get("repo") or connection["settings"].get("repo") or ""
        if not (NAME.match(owner) and NAME.match(repo)):
            raise PermanentNodeError(
                "repo: name the owner and repository (or set them on the connection)"
            )
        created = client.create_issue(connection, owner=owner, repo=repo, **issue)
        return NodeResult(output={**created, "assignee": assignee, "level": level})
