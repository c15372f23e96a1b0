"""The node catalogue: every node type, core or connector, registered once by key."""

from __future__ import annotations

from .base import NodeType

_catalogue: dict[str, type[NodeType]] = {}


def register(node_class: type[NodeType]) -> type[NodeType]:
    """Add a node type; usable as a class decorator. A key is registered once."""
    existing = _catalogue.get(node_class.type)
    if existing is not None and existing is not node_class:
        raise ValueError(f"node type {node_class.type!r} is already registered by {existing}")
    _catalogue[node_class.type] = node_class
    return node_class


def get_node_type(type_key: str) -> type[NodeType] | None:
    return _catalogue.get(type_key)


def all_node_types() -> list[type[NodeType]]:
    order = {"trigger": 0, "condition": 1, "wait": 2, "action": 3, "flow": 4}
    return sorted(_catalogue.values(), key=lambda n: (order.get(n.category, 9), n.type))


# ------------------------------------------------------------------ connections
# integrations/ stores credentials; automation/ does not import it. It
# registers a resolver here in its AppConfig.ready(): (workspace id, connection
# ids) -> {id: decrypted connection}. The engine calls it for a node's outside
# call, so node code stays pure and gets plain data in ctx.connections.
_connection_resolver = None


def set_connection_resolver(resolver) -> None:
    global _connection_resolver
    _connection_resolver = resolver


def resolve_connections(workspace_id, ids: list[str]) -> dict:
    if not ids or _connection_resolver is None:
        return {}
    return _connection_resolver(workspace_id, ids)
