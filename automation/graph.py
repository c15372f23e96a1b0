"""The runtime's read of a workflow graph: nodes by id and where each handle leads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_HANDLE = "out"


@dataclass(frozen=True)
class Graph:
    nodes: Mapping[str, Mapping[str, Any]]
    edges: Mapping[tuple[str, str], str]
    settings: Mapping[str, Any]

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> Graph:
        nodes = {node["id"]: node for node in document.get("nodes", [])}
        edges = {
            (edge["source"], edge.get("sourceHandle") or DEFAULT_HANDLE): edge["target"]
            for edge in document.get("edges", [])
        }
        return cls(nodes=nodes, edges=edges, settings=document.get("settings") or {})

    def node(self, node_id: str) -> Mapping[str, Any] | None:
        return self.nodes.get(node_id)

    def config(self, node_id: str) -> Mapping[str, Any]:
        return (self.nodes[node_id].get("data") or {}).get("config") or {}

    def next_node(self, node_id: str, handle: str) -> str | None:
        return self.edges.get((node_id, handle or DEFAULT_HANDLE))

    def triggers(self) -> list[Mapping[str, Any]]:
        return [n for n in self.nodes.values() if str(n.get("type", "")).startswith("trigger.")]


_cache: dict[int, Graph] = {}


def version_graph(version_id: int) -> Graph:
    """A published version's graph, parsed once per process: versions never change."""
    cached = _cache.get(version_id)
    if cached is None:
        from .models import Run

        version_model = Run._meta.get_field("version").related_model
        document = version_model.objects.values_list("graph", flat=True).get(pk=version_id)
        cached = Graph.parse(document)
        if len(_cache) > 1024:
            _cache.clear()
        _cache[version_id] = cached
    return cached
