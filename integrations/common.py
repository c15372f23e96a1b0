"""Helpers every connector node shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from automation.nodes.base import (
    ConfigIssue,
    NodeContext,
    NodeResult,
    NodeType,
    PermanentNodeError,
)
from automation.templating import template_issues

TEMPLATE_HINT = "Can use templates such as {{ contact.first_name }}."


def connection_field(title: str, provider: str, description: str = "") -> dict[str, Any]:
    """The config schema of a field that picks a stored connection (the canvas lists them)."""
    field: dict[str, Any] = {
        "type": "string",
        "title": title,
        "x-widget": "connection",
        "x-provider": provider,
    }
    if description:
        field["description"] = description
    return field


def template_field(title: str, description: str = "", **extra: Any) -> dict[str, Any]:
    text = f"{description} {TEMPLATE_HINT}".strip()
    return {"type": "string", "title": title, "description": text, **extra}


def connection_of(ctx: NodeContext, field: str, provider: str) -> dict[str, Any] | None:
    """The connection a config field names, as the engine resolved it; None if not set."""
    wanted = ctx.config.get(field)
    if not wanted:
        return None
    connection = ctx.connections.get(str(wanted))
    if connection is None:
        raise PermanentNodeError(f"{field}: connection {wanted} does not exist in this workspace")
    if connection.get("provider") != provider:
        raise PermanentNodeError(f"{field}: connection {wanted} is not a {provider} connection")
    return dict(connection)


def required_connection(ctx: NodeContext, field: str, provider: str) -> dict[str, Any]:
    connection = connection_of(ctx, field, provider)
    if connection is None:
        raise PermanentNodeError(f"{field}: pick a {provider} connection")
    return connection


def one_line(text: str) -> str:
    return " ".join(str(text).split())


# The L1/L2/L3 escalation: who gets a task or issue, by the level a template renders.
ESCALATION_SCHEMA = {
    "level": {
        "type": "string",
        "title": "Level",
        "description": (
            "L1, L2 or L3: picks the assignee from 'Assignee by level'. Can use templates "
            "such as {{ contact.first_name }}, e.g. {{ contact.properties.support_level }}."
        ),
    },
    "assignees": {
        "type": "object",
        "title": "Assignee by level",
        "properties": {
            "L1": {"type": "string", "title": "L1"},
            "L2": {"type": "string", "title": "L2"},
            "L3": {"type": "string", "title": "L3"},
        },
        "additionalProperties": False,
    },
}


def assignee_for(ctx: NodeContext) -> tuple[str, str]:
    """(level, assignee): the assignee field, or the one the rendered level picks."""
    from automation.templating import render_field

    data = ctx.data
    level = one_line(render_field("level", ctx.config.get("level", ""), data)).upper()
    by_level = ctx.config.get("assignees") or {}
    if level and level in by_level:
        return level, str(by_level[level])
    assignee = one_line(render_field("assignee", ctx.config.get("assignee", ""), data))
    return level, assignee


def issue_schema(provider: str, title: str, assignee_help: str, extra: dict) -> dict:
    return {
        "type": "object",
        "properties": {
            "connection": connection_field(title, provider),
            **extra,
            "title": template_field("Title", "", minLength=1),
            "description": template_field("Description", "", format="textarea"),
            "assignee": template_field("Assignee", assignee_help),
            **ESCALATION_SCHEMA,
            "labels": {"type": "array", "items": {"type": "string"}, "title": "Labels"},
        },
        "required": ["connection", "title"],
        "additionalProperties": False,
    }


class IssueNode(NodeType):
    """A task or issue in an outside tracker, assigned directly or by escalation level.

    A subclass says which provider it needs, how the tracker names the issue's
    fields (`issue`) and where it files it (`create`); the rest is shared.
    """

    category = "action"
    has_side_effects = True
    template_fields = ("title", "description", "assignee", "level")
    provider: ClassVar[str]

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return template_issues(config, cls.template_fields)

    def issue(self, ctx: NodeContext, level: str, assignee: str) -> dict[str, Any]:
        raise NotImplementedError

    def create(
        self, ctx: NodeContext, connection: dict[str, Any], issue: dict[str, Any]
    ) -> dict[str, Any]:
        raise NotImplementedError

    def run(self, ctx: NodeContext) -> NodeResult:
        level, assignee = assignee_for(ctx)
        issue = self.issue(ctx, level, assignee)
        if ctx.dry_run:
            return NodeResult(output={"dry_run": True, "would": {**issue, "level": level}})
        connection = required_connection(ctx, "connection", self.provider)
        created = self.create(ctx, connection, issue)
        return NodeResult(output={**created, "assignee": assignee, "level": level})
