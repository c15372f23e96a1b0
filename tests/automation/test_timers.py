"""The timer sweep: oldest due first, and paused workflows' runs out of its way.

Invariants: when more runs are due than one sweep takes, the ones that have
waited longest go first (never the newest); runs of a paused workflow hold
at their node without the every-second sweep reading them, and go on when
the workflow is resumed.
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from automation import timers
from automation.deployments import set_deployment_status
from automation.engine import Outcome, advance_run
from automation.models import Run, RunStatus
from tests.automation.workflows import chain, graph, node, published, send

pytestmark = pytest.mark.django_db


def waiting_flow(name="Flow"):
    start = node("start", "trigger.event", event="signup")
    pause = node("pause", "wait.delay", amount=1, unit="days")
    tag = node("tag", "action.tag", add=["done"])
    return published(graph([start, pause, tag], chain(start, pause, tag)), name=name)


def park(count: int, prefix: str = "p") -> list[Run]:
    for i in range(count):
        send("signup", f"{prefix}{i}@example.com")
    runs = list(Run.objects.filter(status=RunStatus.RUNNING).order_by("created_at"))
    for run in runs:
        assert advance_run(run.pk) is Outcome.WAITING
    return runs


def test_the_sweep_wakes_the_longest_due_runs_first():
    waiting_flow()
    runs = park(5)
    now = timezone.now()
    # The first enrolled fell due first (5 minutes ago), the last one a minute ago.
    for index, run in enumerate(runs):
        Run.objects.filter(pk=run.pk).update(resume_at=now - timedelta(minutes=5 - index))

    woken = timers.wake_runs(Q(resume_at__lte=now), limit=2)

    assert woken == 2
    running = set(Run.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True))
    assert running == {runs[0].pk, runs[1].pk}  # due 5 and 4 minutes ago


def sweep_rows_read() -> int:
    """How many run rows the sweep's query reads (PostgreSQL's own count, not a time)."""
    query = (
        Run.objects.filter(status=RunStatus.WAITING, resume_at__lte=timezone.now())
        .filter(timers.hot_path())
        .order_by("resume_at")
        .values_list("pk", flat=True)[: timers.SWEEP_BATCH]
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def rows(node) -> int:
        own = 0
        if node.get("Relation Name") == Run._meta.db_table:
            own = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        return own + sum(rows(child) for child in node.get("Plans", []))

    return rows(plan[0]["Plan"])


def test_paused_runs_hold_out_of_the_sweeps_way_and_go_on_when_resumed():
    paused = waiting_flow("Paused")
    runs = park(60)
    Run.objects.filter(pk__in=[r.pk for r in runs]).update(
        resume_at=timezone.now() - timedelta(seconds=5)
    )
    set_deployment_status(paused.pk, "paused")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Run._meta.db_table}")

    assert timers.sweep_due_runs() == 0
    # The sweep does not read the 60 held runs at all, due as they are.
    assert sweep_rows_read() < 10
    assert Run.objects.filter(status=RunStatus.WAITING).count() == 60

    set_deployment_status(paused.pk, "active")
    assert Run.objects.filter(status=RunStatus.RUNNING).count() == 60
    assert advance_run(runs[0].pk) is Outcome.COMPLETED


def test_a_run_moving_when_its_workflow_is_paused_holds_at_its_next_node_until_resumed():
    workflow = waiting_flow()
    send("signup", "ada@example.com")
    run = Run.objects.get()
    set_deployment_status(workflow.pk, "paused")

    assert advance_run(run.pk) is Outcome.HELD
    assert timers.sweep_due_runs() == 0
    assert sweep_rows_read() == 0

    set_deployment_status(workflow.pk, "active")
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert advance_run(run.pk) is Outcome.WAITING  # at the delay, as if never paused
