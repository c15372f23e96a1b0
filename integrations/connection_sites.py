"""The sites a stored connection may be sent to, and the steps of a graph
that would send one elsewhere (the rule itself: integrations/destinations.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .destinations import Origin, allowed, origin_of, refusal, static_host
from .models import Connection
from .providers import PROVIDERS


def origins_of(connection: Mapping[str, Any]) -> list[Origin]:
    """The origins a connection (as `Connection.resolved()` gives it) may be sent to."""
    options = connection.get("settings") or {}
    provider = PROVIDERS.get(str(connection.get("provider") or ""))
    if provider is not None and "base_url" in provider.settings:
        base = options.get("base_url") or provider.settings["base_url"].get("default", "")
        found = origin_of(base) if base else None
        return [found] if found else []
    hosts = options.get("hosts") or []
    if not isinstance(hosts, list):
        return []
    return [found for found in (origin_of(h) for h in hosts) if found is not None]


def graph_issues(graph: Any, workspace_id: Any = None) -> list[tuple[str, str, str]]:
    """(node id, config field, message) for every step that would send a
    connection's credentials to a URL the connection is not for.

    Node types say which of their config fields is the URL that carries a
    connection's credentials (`credentials_url = ("url", "connection")`).
    Connections are looked up in `workspace_id` (any workspace when None); a
    connection that is not found, or not an `http` one, is left to the
    checks that report those.
    """
    from automation.nodes.registry import get_node_type

    if not isinstance(graph, Mapping) or not isinstance(graph.get("nodes"), list):
        return []
    wanted: list[tuple[str, str, str, str]] = []  # node id, url field, url, connection id
    for node in graph["nodes"]:
        if not isinstance(node, Mapping):
            continue
        node_class = get_node_type(str(node.get("type", "")))
        fields = getattr(node_class, "credentials_url", None)
        data = node.get("data")
        config = data.get("config") if isinstance(data, Mapping) else None
        if not fields or not isinstance(config, Mapping):
            continue
        url_field, connection_field = fields
        url, connection_id = config.get(url_field), config.get(connection_field)
        if isinstance(url, str) and connection_id and static_host(url):
            wanted.append((str(node.get("id")), url_field, url, str(connection_id)))
    if not wanted:
        return []
    connections = _connections({c for *_, c in wanted}, workspace_id)
    issues = []
    for node_id, url_field, url, connection_id in wanted:
        connection = connections.get(connection_id)
        if connection is None or connection["provider"] != "http":
            continue
        if origin_of(url) is None:
            continue  # not a usable URL: the node's own check says so
        origins = origins_of(connection)
        if not allowed(origins, url.strip()):
            issues.append((node_id, url_field, refusal(origins)))
    return issues


def _connections(ids: set[str], workspace_id: Any) -> dict[str, dict[str, Any]]:
    found = Connection.objects.filter(pk__in=[int(i) for i in ids if i.isdigit()])
    if workspace_id is not None:
        found = found.filter(workspace_id=workspace_id)
    return {
        str(pk): {"provider": provider, "settings": settings or {}}
        for pk, provider, settings in found.values_list("pk", "provider", "settings")
    }
