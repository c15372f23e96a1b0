"""Redelivery and size: the engine on the real worker, under duplicate messages."""

import itertools
import threading

import pytest
from django.db import connection

from automation.engine import advance_run
from automation.models import Run, RunStatus, Step
from automation.tasks import advance_run_task
from tests.automation.workflows import chain, graph, node, path_of, published, send
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def sixty_node_workflow():
    nodes = [node("start", "trigger.event", event="signup")]
    for i in range(1, 59):
        if i % 3 == 0:
            nodes.append(node(f"n{i}", "condition.if", match="all", rules=[
                {"field": "contact.email", "op": "contains", "value": "@"}]))  # fmt: skip
        else:
            nodes.append(node(f"n{i}", "action.update_contact", properties={f"p{i}": i}))
    nodes.append(node("end", "flow.end"))
    edges = []
    for a, b in itertools.pairwise(nodes):
        edge = chain(a, b)[0]
        if a["type"] == "condition.if":
            edge["sourceHandle"] = "yes"
        edges.append(edge)
    # condition.if's "no" handle is explicitly left open: a contact without @ ends there.
    for n in nodes:
        if n["type"] == "condition.if":
            n["data"]["open_handles"] = ["no"]
    assert len(nodes) == 60
    return published(graph(nodes, edges))


@pytest.mark.usefixtures("celery_worker")
def test_sixty_node_workflow_runs_to_the_end_with_each_node_once_under_triple_delivery():
    workflow = sixty_node_workflow()
    send("signup", "ada@example.com")  # queues the run once, on commit
    run = Run.objects.get(workflow=workflow)
    # Two more deliveries of the same job, racing the first one.
    advance_run_task.delay(str(run.pk))
    advance_run_task.delay(str(run.pk))

    wait_until(
        lambda: Run.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).exists(),
        what="the 60-node run completes",
    )
    path = path_of(run)
    assert len(path) == 60
    assert len(set(path)) == 60  # every node exactly once
    assert path[0] == "start" and path[-1] == "end"
    run.refresh_from_db()
    assert run.contact.properties["p58"] == 58


def test_concurrent_advances_of_one_run_execute_each_node_once():
    # Invariant: two workers holding the same job never both execute a visit.
    workflow = sixty_node_workflow()
    send("signup", "bob@example.com")
    run = Run.objects.get(workflow=workflow)
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait()
        try:
            for _ in range(30):
                advance_run(run.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert Step.objects.filter(run=run).count() == 60
    assert len(set(path_of(run))) == 60
