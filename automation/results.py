"""A workflow's results: how many contacts it enrolled, where they are, how each node did.

Three aggregate queries, whatever the number of runs: runs by status, steps
by node and status, waiting runs by the node they wait at. Preview runs never
count (DESIGN.md, "Preview mode").
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from .models import Run, RunStatus, Step, StepStatus

NODE_STEP_COUNTERS = (StepStatus.COMPLETED, StepStatus.FAILED)


def _empty_node() -> dict[str, int]:
    return {"entered": 0, "waiting": 0, "completed": 0, "failed": 0}


def workflow_results(workflow_id) -> dict[str, Any]:
    """{"enrolled", "by_status": {every run status: count}, "nodes": {node_id: counts}}.

    Per node: `entered` counts visits (Step rows), `waiting` the runs waiting
    there now, `completed`/`failed` the steps that ended so.
    """
    runs = Run.objects.filter(workflow_id=workflow_id, is_preview=False)

    by_status = dict.fromkeys(RunStatus.values, 0)
    for row in runs.order_by().values("status").annotate(count=Count("pk")):
        by_status[row["status"]] = row["count"]

    nodes: dict[str, dict[str, int]] = {}
    steps = (
        Step.objects.filter(run__workflow_id=workflow_id, run__is_preview=False)
        .order_by()
        .values("node_id", "status")
        .annotate(count=Count("pk"))
    )
    for row in steps:
        node = nodes.setdefault(row["node_id"], _empty_node())
        node["entered"] += row["count"]
        if row["status"] in NODE_STEP_COUNTERS:
            node[row["status"]] += row["count"]

    waiting = (
        runs.filter(status=RunStatus.WAITING)
        .order_by()
        .values("current_node")
        .annotate(count=Count("pk"))
    )
    for row in waiting:
        nodes.setdefault(row["current_node"], _empty_node())["waiting"] = row["count"]

    return {"enrolled": sum(by_status.values()), "by_status": by_status, "nodes": nodes}
