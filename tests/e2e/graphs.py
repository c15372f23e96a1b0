"""Workflow graphs for the browser tests and the canvas benchmark."""


def big_graph(count: int) -> dict:
    """A chain of `count` nodes laid out in a grid."""
    nodes = [
        {
            "id": "start",
            "type": "trigger.event",
            "position": {"x": 0, "y": 0},
            "data": {"config": {"event": "signup"}},
        }
    ]
    for index in range(1, count):
        nodes.append(
            {
                "id": f"tag_{index}",
                "type": "action.tag",
                "position": {"x": (index % 20) * 280, "y": (index // 20) * 160},
                "data": {"config": {"add": [f"t{index}"]}},
            }
        )
    edges = [
        {"id": f"e{index}", "source": nodes[index - 1]["id"], "target": nodes[index]["id"]}
        for index in range(1, count)
    ]
    return {"nodes": nodes, "edges": edges, "settings": {}}
