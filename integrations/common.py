"""Helpers every connector node shares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
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


# A node that falls back on the workspace's default connection of a provider
# (action.email: the workspace's sender) names it "default:<provider>" in
# connection_ids(); the resolver (integrations.services) finds it.
DEFAULT_PREFIX = "default:"


def default_connection_id(provider: str) -> str:
    return f"{DEFAULT_PREFIX}{provider}"


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


def visit_started_at(ctx: NodeContext) -> datetime:
    """When this visit of the node began, the same on every attempt (ctx.now is
    the current attempt's time). Outside calls that a service deduplicates by
    content (Mixpanel: $insert_id with `time`) use it. A context built by hand
    (unit tests, no run) gets ctx.now."""
    return ctx.visit_started_at or ctx.now


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


def pick_assignee(level: str, by_level: Mapping[str, Any] | None, assignee: str = "") -> str:
    """The level's assignee from 'Assignee by level', else the direct assignee."""
    by_level = by_level or {}
    if level and by_level.get(level):
        return str(by_level[level])
    return assignee


def assignee_for(ctx: NodeContext) -> tuple[str, str]:
    """(level, assignee): the assignee field, or the one the rendered level picks."""
    from automation.templating import render_field

    data = ctx.data
    level = one_line(render_field("level", ctx.config.get("level", ""), data)).upper()
    assignee = one_line(render_field("assignee", ctx.config.get("assignee", ""), data))
    return level, pick_assignee(level, ctx.config.get("assignees"), assignee)


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


@dataclass(frozen=True)
class Issue:
    """An issue as Cairn means it, before a tracker names its fields."""

    title: str
    description: str = ""
    level: str = ""  # L1, L2, L3 or empty
    assignee: str = ""  # already picked by level
    labels: tuple[str, ...] = ()
    issue_type: str = ""  # Jira's; empty: Task


class IssueNode(NodeType):
    """A task or issue in an outside tracker, assigned directly or by escalation level.

    A subclass says which provider it needs, how the tracker names the issue's
    fields (`fields`) and where it files it (`create`, reading the config's
    project/team/repository, else the connection's default). Workflow nodes
    and product escalations (`file_issue`) both file through these, so the
    defaults and the level's assignee and priority are decided in one place.
    """

    category = "action"
    has_side_effects = True
    template_fields = ("title", "description", "assignee", "level")
    provider: ClassVar[str]

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return template_issues(config, cls.template_fields)

    @classmethod
    def fields(cls, issue: Issue) -> dict[str, Any]:
        """The tracker client's arguments for this issue."""
        raise NotImplementedError

    @classmethod
    def create(
        cls, connection: Mapping[str, Any], fields: dict[str, Any], where: Mapping[str, Any]
    ) -> dict[str, Any]:
        """File it where `where` (a node config or an escalation route) says, else
        where the connection's settings say."""
        raise NotImplementedError

    def run(self, ctx: NodeContext) -> NodeResult:
        from automation.templating import render_field

        data = ctx.data
        level, assignee = assignee_for(ctx)
        issue = Issue(
            title=one_line(render_field("title", ctx.config["title"], data)),
            description=render_field("description", ctx.config.get("description", ""), data),
            level=level,
            assignee=assignee,
            labels=tuple(ctx.config.get("labels") or ()),
            issue_type=str(ctx.config.get("issue_type") or ""),
        )
        fields = self.fields(issue)
        if ctx.dry_run:
            return NodeResult(output={"dry_run": True, "would": {**fields, "level": level}})
        connection = required_connection(ctx, "connection", self.provider)
        created = self.create(connection, fields, ctx.config)
        return NodeResult(output={**created, "assignee": assignee, "level": level})


def file_issue(
    provider: str,
    connection: Mapping[str, Any],
    route: Mapping[str, Any],
    *,
    level: str,
    title: str,
    description: str,
    labels: tuple[str, ...] = (),
) -> dict[str, Any]:
    """File an issue outside a workflow (a product escalation) as the provider's
    node would: `route` holds the node's config fields (project / team_id /
    owner, repo, issue_type, assignee, and `assignees` by level); what it leaves
    empty comes from the connection."""
    from automation.nodes.registry import get_node_type

    node_class = get_node_type(f"action.{provider}")
    if node_class is None or not issubclass(node_class, IssueNode):
        raise ValueError(f"{provider} is not an issue tracker Cairn files into")
    issue = Issue(
        title=one_line(title),
        description=description,
        level=level,
        assignee=pick_assignee(level, route.get("assignees"), str(route.get("assignee") or "")),
        labels=tuple(labels),
        issue_type=str(route.get("issue_type") or ""),
    )
    return node_class.create(connection, node_class.fields(issue), route)
