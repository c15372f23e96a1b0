"""Core actions: change the contact, tell the team, hand over to another workflow.

Actions never write anything themselves; they return effects (a ContactPatch,
inbox items, an enrolment) that the engine applies in the step's transaction.
In preview (ctx.dry_run) they return what they would have done and no effects.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from automation.templating import render_field, template_issues

from .base import (
    CONNECTION_ID_MAX_LENGTH,
    PROPERTY_NAME_MAX_LENGTH,
    TAG_MAX_LENGTH,
    ConfigIssue,
    ContactPatch,
    InboxItemSpec,
    NodeContext,
    NodeResult,
    NodeType,
    PermanentNodeError,
)

TAG_LIST_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": TAG_MAX_LENGTH},
    "uniqueItems": True,
    "default": [],
}


def dry_run_result(would: Mapping[str, Any]) -> NodeResult:
    """What a preview step reports instead of acting."""
    return NodeResult(output={"dry_run": True, "would": dict(would)}, handle="out")


class ActionNode(NodeType):
    category = "action"
    handles = ("out",)
    # Config fields whose strings are templates; check_config checks their syntax.
    template_fields: tuple[str, ...] = ()

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return template_issues(config, cls.template_fields)


class UpdateContactAction(ActionNode):
    type = "action.update_contact"
    label = "Update contact"
    summary = "Set {properties:keys}"
    description = "Sets contact properties, e.g. plan = pro or last_offer = {{ event.data.code }}."
    template_fields = ("properties",)
    config_schema = {
        "type": "object",
        "properties": {
            "properties": {
                "type": "object",
                "title": "Properties to set",
                "description": (
                    "Property name and new value. Text can use templates such as "
                    "{{ event.data.plan }}."
                ),
                "minProperties": 1,
                "propertyNames": {"minLength": 1, "maxLength": PROPERTY_NAME_MAX_LENGTH},
            },
        },
        "required": ["properties"],
        "additionalProperties": False,
    }

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        values = {
            name: render_field(f"properties.{name}", value, data)
            for name, value in ctx.config["properties"].items()
        }
        if ctx.dry_run:
            return dry_run_result({"set": values})
        return NodeResult(output={"set": values}, contact_patch=ContactPatch(properties=values))


class TagAction(ActionNode):
    type = "action.tag"
    label = "Add or remove tags"
    summary = "Tags[ +{add:list}][ -{remove:list}]"
    description = "Adds tags to the contact, removes tags, or both."
    config_schema = {
        "type": "object",
        "properties": {
            "add": {**TAG_LIST_SCHEMA, "title": "Add tags"},
            "remove": {**TAG_LIST_SCHEMA, "title": "Remove tags"},
        },
        "required": [],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        if not config.get("add") and not config.get("remove"):
            return [ConfigIssue("add", "add or remove at least one tag", "required")]
        return []

    def run(self, ctx: NodeContext) -> NodeResult:
        add = tuple(ctx.config.get("add") or ())
        remove = tuple(ctx.config.get("remove") or ())
        summary = {"added": list(add), "removed": list(remove)}
        if ctx.dry_run:
            return dry_run_result(summary)
        return NodeResult(
            output=summary, contact_patch=ContactPatch(add_tags=add, remove_tags=remove)
        )


def _first_line(text: str, limit: int = 120) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


INBOX = "inbox"
INTERNAL = "internal"
# action.task's trackers: the connector node type each delegates to.
TASK_SYSTEMS = {"jira": "action.jira", "linear": "action.linear", "github": "action.github"}


def _delegate(type_key: str, ctx: NodeContext, config: dict[str, Any]) -> NodeResult:
    """Run a connector's node type with `config`: one client per outside service.

    automation/ does not import integrations/; the connector registered its
    node type into the catalogue, and the engine resolved the connection the
    delegating node's config names, so the connector finds it in ctx.
    """
    from dataclasses import replace

    from .registry import get_node_type

    connector = get_node_type(type_key)
    if connector is None:
        raise PermanentNodeError(f"{type_key} is not installed in this Cairn")
    return connector().run(replace(ctx, config=config))


class NotifyAction(ActionNode):
    type = "action.notify"
    label = "Notify the team"
    summary = "Notify: {title|message}"
    description = (
        "Tells the team, in the Cairn inbox or in Slack, e.g. 'Big order from {{ contact.email }}'."
    )
    template_fields = ("title", "message", "slack_channel")
    config_schema = {
        "type": "object",
        "properties": {
            "channel": {
                "type": "string",
                "title": "Where",
                "description": "The team inbox, or a Slack connection.",
                "default": INBOX,
                "pattern": "^(inbox|[0-9]+)$",
                "maxLength": CONNECTION_ID_MAX_LENGTH,
                "x-widget": "connection",
                "x-provider": "slack",
                "x-builtin-options": [{"value": INBOX, "label": "Team inbox"}],
            },
            "slack_channel": {
                "type": "string",
                "title": "Slack channel",
                "description": "A channel name (#sales) or id (C0123456789).",
                "x-show-when": {"field": "channel", "not_in": [INBOX]},
            },
            "title": {
                "type": "string",
                "title": "Title",
                "description": "Optional; the message's first line is used when empty.",
            },
            "message": {
                "type": "string",
                "minLength": 1,
                "title": "Message",
                "description": "Can use templates such as {{ contact.email }}.",
                "format": "textarea",
            },
        },
        "required": ["message"],
        "additionalProperties": False,
    }

    @classmethod
    def reaches_outside(cls, config: Mapping[str, Any]) -> bool:
        return config.get("channel", INBOX) != INBOX

    @classmethod
    def connection_ids(cls, config: Mapping[str, Any]) -> list[str]:
        return [str(config["channel"])] if cls.reaches_outside(config) else []

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        issues = super().check_config(config)
        if cls.reaches_outside(config) and not str(config.get("slack_channel", "")).strip():
            issues.append(
                ConfigIssue("slack_channel", "name the Slack channel to post to", "required")
            )
        return issues

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        channel = ctx.config.get("channel", INBOX)
        message = render_field("message", ctx.config["message"], data)
        title = render_field("title", ctx.config.get("title", ""), data).strip()
        if channel != INBOX:
            text = f"*{title}*\n{message}" if title else message
            config = {"connection": channel, "channel": ctx.config["slack_channel"], "text": text}
            return _delegate("action.slack", ctx, config)
        title = title or _first_line(message) or "Workflow notification"
        if ctx.dry_run:
            return dry_run_result({"channel": channel, "title": title, "message": message})
        return NodeResult(
            output={"channel": channel, "title": title},
            inbox=(InboxItemSpec(kind="notification", title=title, body=message, channel=channel),),
        )


class TaskAction(ActionNode):
    type = "action.task"
    label = "Create a task"
    summary = "Task: {title}"
    description = (
        "Creates a task for someone on the team, in Cairn or as a Jira, Linear or GitHub issue, "
        "e.g. 'Call {{ contact.email }}'."
    )
    template_fields = ("title", "description", "assignee")
    config_schema = {
        "type": "object",
        "properties": {
            "title": {
                "type": "string",
                "minLength": 1,
                "title": "Task",
                "description": "Can use templates such as {{ contact.first_name }}.",
            },
            "description": {
                "type": "string",
                "title": "Details",
                "format": "textarea",
            },
            "assignee": {
                "type": "string",
                "title": "Assign to",
                "description": (
                    "A teammate's email or username (Cairn), Jira accountId, Linear user id "
                    "or GitHub login; leave empty for anyone."
                ),
            },
            "system": {
                "enum": [INTERNAL, *TASK_SYSTEMS],
                "enumNames": ["Cairn inbox", "Jira", "Linear", "GitHub"],
                "title": "Create it in",
                "default": INTERNAL,
            },
            "connection": {
                "type": "string",
                "title": "Connection",
                "pattern": "^[0-9]+$",
                "maxLength": CONNECTION_ID_MAX_LENGTH,
                "x-widget": "connection",
                "x-provider-from": "system",
                "x-show-when": {"field": "system", "in": list(TASK_SYSTEMS)},
            },
            "project": {
                "type": "string",
                "title": "Project",
                "description": (
                    "Jira project key (OPS), GitHub repository (owner/name) or Linear team id; "
                    "empty: the connection's default."
                ),
                "x-show-when": {"field": "system", "in": list(TASK_SYSTEMS)},
            },
        },
        "required": ["title"],
        "additionalProperties": False,
    }

    @classmethod
    def reaches_outside(cls, config: Mapping[str, Any]) -> bool:
        return config.get("system", INTERNAL) != INTERNAL

    @classmethod
    def connection_ids(cls, config: Mapping[str, Any]) -> list[str]:
        wanted = config.get("connection")
        return [str(wanted)] if cls.reaches_outside(config) and wanted else []

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        issues = super().check_config(config)
        if cls.reaches_outside(config) and not config.get("connection"):
            system = config.get("system")
            issues.append(ConfigIssue("connection", f"pick a {system} connection", "required"))
        project = str(config.get("project", ""))
        if config.get("system") == "github" and project and project.count("/") != 1:
            issues.append(ConfigIssue("project", "a GitHub repository is owner/name", "format"))
        return issues

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        system = ctx.config.get("system", INTERNAL)
        if system != INTERNAL:
            result = _delegate(TASK_SYSTEMS[system], ctx, _tracker_config(system, ctx.config))
            return NodeResult(output={"system": system, **result.output}, handle=result.handle)
        title = render_field("title", ctx.config["title"], data).strip()
        if not title:
            raise PermanentNodeError("title: the task title rendered empty")
        description = render_field("description", ctx.config.get("description", ""), data)
        assignee = render_field("assignee", ctx.config.get("assignee", ""), data).strip()
        task = {"system": system, "title": title, "description": description, "assignee": assignee}
        if ctx.dry_run:
            return dry_run_result(task)
        return NodeResult(
            output={"system": system, "title": title, "assignee": assignee},
            inbox=(InboxItemSpec(kind="task", title=title, body=description, assignee=assignee),),
        )


def _tracker_config(system: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """action.task's config in the words of the tracker's own node type."""
    shared = {
        key: config[key]
        for key in ("connection", "title", "description", "assignee")
        if config.get(key)
    }
    project = str(config.get("project", "")).strip()
    if not project:
        return shared
    if system == "jira":
        return {**shared, "project": project}
    if system == "linear":
        return {**shared, "team_id": project}
    owner, _, repo = project.partition("/")
    return {**shared, "owner": owner, "repo": repo}


class EnrollAction(ActionNode):
    type = "action.enroll"
    label = "Start another workflow"
    description = "Enrols the contact in another workflow (this one carries on)."
    config_schema = {
        "type": "object",
        "properties": {
            "workflow": {
                "type": "string",
                "minLength": 1,
                "title": "Workflow",
                "description": "The workflow to start for this contact.",
            },
        },
        "required": ["workflow"],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        try:
            uuid.UUID(str(config["workflow"]))
        except ValueError:
            return [ConfigIssue("workflow", "choose a workflow (its id is a UUID)", "workflow")]
        return []

    def run(self, ctx: NodeContext) -> NodeResult:
        workflow = str(ctx.config["workflow"])
        if ctx.dry_run:
            return dry_run_result({"workflow": workflow})
        return NodeResult(output={"workflow": workflow}, enroll_workflow=workflow)


NODE_TYPES: list[type[NodeType]] = [
    UpdateContactAction,
    TagAction,
    NotifyAction,
    TaskAction,
    EnrollAction,
]
