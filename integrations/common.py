"""Helpers every connector node shares."""

from __future__ import annotations

from typing import Any

from automation.nodes.base import NodeContext, PermanentNodeError

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
