"""Flow control nodes."""

from __future__ import annotations

from .base import NodeContext, NodeResult, NodeType


class EndFlow(NodeType):
    type = "flow.end"
    label = "End"
    category = "flow"
    description = "Ends the workflow for this contact. A path with nothing after it ends too."
    handles = ()
    config_schema = {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }

    def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult(end=True)


NODE_TYPES: list[type[NodeType]] = [EndFlow]
