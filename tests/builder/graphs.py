"""Small builders for workflow graphs in tests: readable cases, no fixture files."""

from __future__ import annotations

import copy
from itertools import pairwise
from typing import Any

# A valid config for each core node type (the DESIGN.md config names).
VALID_CONFIGS: dict[str, dict[str, Any]] = {
    "trigger.event": {"event": "signup"},
    "wait.delay": {"amount": 1, "unit": "days"},
    "wait.event": {"event": "purchase", "timeout": {"amount": 3, "unit": "days"}},
    "condition.if": {
        "match": "all",
        "rules": [{"field": "contact.properties.plan", "op": "eq", "value": "pro"}],
    },
    "condition.split": {
        "branches": [{"handle": "a", "percent": 50}, {"handle": "b", "percent": 50}]
    },
    "action.email": {"subject": "Welcome, {{ contact.first_name }}", "body": "Hello!"},
    "action.tag": {"add": ["vip"]},
    "flow.end": {},
}

_MISSING: Any = object()


def node(
    node_id: str,
    node_type: str,
    config: Any = _MISSING,
    *,
    open_handles: list[str] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """A node with a valid config for its type unless `config` is given."""
    if config is _MISSING:
        config = copy.deepcopy(VALID_CONFIGS.get(node_type, {}))
    data: dict[str, Any] = {"config": config}
    if label is not None:
        data["label"] = label
    if open_handles is not None:
        data["open_handles"] = open_handles
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": data}


def edge(
    source: str, target: str, handle: str | None = None, *, edge_id: str | None = None
) -> dict[str, Any]:
    """An edge; its id defaults to 'source-handle-target'."""
    result: dict[str, Any] = {
        "id": edge_id or f"{source}-{handle or 'out'}-{target}",
        "source": source,
        "target": target,
    }
    if handle is not None:
        result["sourceHandle"] = handle
    return result


def chain(*node_ids: str) -> list[dict[str, Any]]:
    """Edges along the default output: chain("a", "b", "c") is a -> b -> c."""
    return [edge(a, b) for a, b in pairwise(node_ids)]


def graph(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {"nodes": list(nodes), "edges": list(edges or [])}
    if settings is not None:
        document["settings"] = settings
    return document


def simple_graph(**settings: Any) -> dict[str, Any]:
    """trigger -> email: the smallest valid workflow."""
    return graph(
        [node("start", "trigger.event"), node("welcome", "action.email")],
        chain("start", "welcome"),
        settings or None,
    )


def tag_graph() -> dict[str, Any]:
    """trigger.event signup -> tag "new": a valid workflow with no outside effects."""
    return graph(
        [
            node("start", "trigger.event", {"event": "signup"}),
            node("tag", "action.tag", {"add": ["new"]}),
        ],
        chain("start", "tag"),
        None,
    )
