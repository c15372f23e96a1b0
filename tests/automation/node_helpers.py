"""Build NodeContexts by hand for node unit tests (no database)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from automation.nodes.base import NodeContext, NodeType

NOW = datetime(2025, 3, 5, 14, 30, tzinfo=UTC)  # a Wednesday


def make_contact(**overrides: Any) -> dict[str, Any]:
    contact: dict[str, Any] = {
        "id": "c1",
        "email": "ada@example.com",
        "external_id": "u-1",
        "properties": {"first_name": "Ada", "plan": "pro", "score": 42},
        "tags": ["customer"],
        "time_zone": "UTC",
    }
    contact.update(overrides)
    return contact


def make_ctx(
    config: Mapping[str, Any] | None = None,
    *,
    node_id: str = "node1",
    contact: Mapping[str, Any] | None = None,
    event: Mapping[str, Any] | None = None,
    steps: Mapping[str, Any] | None = None,
    now: datetime = NOW,
    **fields: Any,
) -> NodeContext:
    return NodeContext(
        node_id=node_id,
        config=dict(config or {}),
        contact=make_contact() if contact is None else contact,
        event=event if event is not None else {},
        steps=steps or {},
        now=now,
        **fields,
    )


def config_errors(node: type[NodeType], config: Any) -> dict[str, str]:
    """{field: message} of a config's validation issues (empty when valid)."""
    return {issue.field: issue.message for issue in node.validate_config(config)}
