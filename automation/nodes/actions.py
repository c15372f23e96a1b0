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
    "items": {"type": "string", "minLength": 1, "maxLength": 100},
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
                "propertyNames": {"minLength": 1, "maxLength": 100},
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


class NotifyAction(ActionNode):
    type = "action.notify"
    label = "Notify the team"
    summary = "Notify: {title|message}"
    description = "Posts a message to the team inbox, e.g. 'Big order from {{ contact.email }}'."
    template_fields = ("title", "message")
    config_schema = {
        "type": "object",
        "properties": {
            "channel": {
                "enum": ["inbox"],
                "enumNames": ["Team inbox"],
                "title": "Where",
                "default": "inbox",
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

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        channel = ctx.config.get("channel", "inbox")
        message = render_field("message", ctx.config["message"], data)
        title = render_field("title", ctx.config.get("title", ""), data).strip()
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
    description = "Creates a task for someone on the team, e.g. 'Call {{ contact.email }}'."
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
                "description": "A teammate's email or username; leave empty for anyone.",
            },
            "system": {
                "enum": ["internal"],
                "enumNames": ["Cairn inbox"],
                "title": "Create it in",
                "default": "internal",
            },
        },
        "required": ["title"],
        "additionalProperties": False,
    }

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        title = render_field("title", ctx.config["title"], data).strip()
        if not title:
            raise PermanentNodeError("title: the task title rendered empty")
        description = render_field("description", ctx.config.get("description", ""), data)
        assignee = render_field("assignee", ctx.config.get("assignee", ""), data).strip()
        system = ctx.config.get("system", "internal")
        task = {"system": system, "title": title, "description": description, "assignee": assignee}
        if ctx.dry_run:
            return dry_run_result(task)
        return NodeResult(
            output={"system": system, "title": title, "assignee": assignee},
            inbox=(InboxItemSpec(kind="task", title=title, body=description, assignee=assignee),),
        )


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
