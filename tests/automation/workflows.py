"""Build, publish and drive workflows in engine tests, through the real services."""

from __future__ import annotations

import contextlib
import itertools
import threading
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from automation.ingest import ContactRef, IncomingEvent, ingest_events
from automation.models import Run
from builder import services
from builder.models import Workflow, Workspace

_ids = itertools.count(1)


def node(node_id: str, type_: str, **config) -> dict:
    return {
        "id": node_id,
        "type": type_,
        "position": {"x": 0, "y": next(_ids) * 120},
        "data": {"label": node_id, "config": config},
    }


def edge(source: str, target: str, handle: str | None = None) -> dict:
    data = {"id": f"{source}-{handle or 'out'}-{target}", "source": source, "target": target}
    if handle:
        data["sourceHandle"] = handle
    return data


def chain(*nodes: dict) -> list[dict]:
    return [edge(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)]


def graph(nodes: list[dict], edges: list[dict], **settings) -> dict:
    return {"nodes": nodes, "edges": edges, "settings": settings}


def workspace(slug: str = "acme") -> Workspace:
    return Workspace.objects.get_or_create(slug=slug, defaults={"name": slug.title()})[0]


def published(document: dict, *, ws: Workspace | None = None, name: str = "Flow") -> Workflow:
    workflow = services.create_workflow(ws or workspace(), name=name, graph=document)
    services.publish(workflow)
    workflow.refresh_from_db()
    return workflow


def send(
    event_type: str,
    email: str,
    *,
    ws: Workspace | None = None,
    data: dict | None = None,
    event_id: str | None = None,
    properties: dict | None = None,
    occurred_at: datetime | None = None,
):
    return ingest_events(
        (ws or workspace()).pk,
        [
            IncomingEvent(
                type=event_type,
                contact=ContactRef(email=email, properties=properties),
                data=data or {},
                occurred_at=occurred_at or timezone.now(),
                client_id=event_id,
            )
        ],
    )


def path_of(run: Run) -> list[str]:
    return list(run.steps.order_by("seq").values_list("node_id", flat=True))


@contextlib.contextmanager
def locked_by_another_worker(run_id):
    """Hold the run's row lock from another connection (a thread), as a worker
    writing that run's chunk would, until the block ends."""
    locked, release = threading.Event(), threading.Event()

    def worker() -> None:
        with transaction.atomic():
            Run.objects.select_for_update().get(pk=run_id)
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert locked.wait(5), "the other worker did not get the lock"
    try:
        yield
    finally:
        release.set()
        thread.join()
