"""What a graph names outside itself must belong to the workflow's own workspace.

A node can name another workflow (`action.enroll`'s `workflow`) or a stored
connection (any config field the catalogue marks `x-widget: connection`).
Naming one of another workspace's is refused at validation, as an issue on
that node's field, so publish is refused; before, the graph published and
each run failed (or silently did nothing) when it reached the node.

Kept apart from builder/validation.py, which is pure Python over the JSON:
this is the one check that reads the database. `validate_graph(...,
workspace_id=...)` calls it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from automation.nodes.registry import get_node_type

ENROLL = "action.enroll"
CODE = "unknown_reference"


def _nodes(graph: Any) -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    """(node id, node type, config) of every well-formed node."""
    nodes = graph.get("nodes") if isinstance(graph, Mapping) else None
    for node in nodes if isinstance(nodes, list) else ():
        if not isinstance(node, Mapping) or not isinstance(node.get("id"), str):
            continue
        node_type = get_node_type(node.get("type")) if isinstance(node.get("type"), str) else None
        data = node.get("data")
        config = data.get("config") if isinstance(data, Mapping) else None
        if node_type is not None and isinstance(config, Mapping):
            yield node["id"], node_type, config


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def reference_issues(graph: Any, workspace_id) -> list[tuple[str, str, str]]:
    """(node id, field, message) for each workflow or connection the graph names
    that is not one of this workspace's. Two queries, whatever the graph's size."""
    from builder.models import Workflow
    from integrations.models import Connection

    workflows: list[tuple[str, str, uuid.UUID]] = []
    connections: list[tuple[str, str, int]] = []
    for node_id, node_type, config in _nodes(graph):
        if node_type.type == ENROLL and (wanted := _as_uuid(config.get("workflow"))):
            workflows.append((node_id, "config.workflow", wanted))
        try:
            named = set(node_type.connection_ids(config))
        except Exception:  # an invalid config: its own issue says so
            continue
        for name, value in config.items():
            if str(value) in named and str(value).isdigit():
                connections.append((node_id, f"config.{name}", int(value)))

    own_workflows = set(
        Workflow.objects.filter(
            workspace_id=workspace_id, pk__in=[w for _n, _f, w in workflows]
        ).values_list("pk", flat=True)
    )
    own_connections = set(
        Connection.objects.filter(
            workspace_id=workspace_id, pk__in=[c for _n, _f, c in connections]
        ).values_list("pk", flat=True)
    )
    issues = [
        (node_id, field, "choose a workflow of this workspace; the one chosen is not in it")
        for node_id, field, wanted in workflows
        if wanted not in own_workflows
    ]
    issues += [
        (
            node_id,
            field,
            "choose a connection of this workspace; the one chosen is not in it",
        )
        for node_id, field, wanted in connections
        if wanted not in own_connections
    ]
    return issues
