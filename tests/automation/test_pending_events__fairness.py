"""The queued intake is fair across workspaces and runs no tenant's work under its lock.

Invariants (DESIGN.md, "Tenancy"): a batch of the drain takes pending
events round-robin across workspaces, so one workspace's flood never fills
the batch another workspace's event waits for, while each workspace's
events are still taken oldest first (one contact's events keep their
order); and the runs a batch enrolled are started only after the batch
committed, with the drain's lock released, so a workspace's slow template
never holds what every tenant's events need; a workspace found slow there
has its runs queued behind everyone else's for a while.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from automation import pending_events, tenancy
from automation.ingest import ContactRef, IncomingEvent
from automation.models import PendingEvent, Run, RunStatus, Step
from tests.automation.workflows import chain, graph, node, published, workspace
from tests.conftest import the_test_database_url, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_slow_marks_before_or_after():
    tenancy.forget()
    yield
    tenancy.forget()


def incoming(n: int, email: str, kind: str = "signup") -> IncomingEvent:
    return IncomingEvent(
        type=kind,
        contact=ContactRef(email=email),
        data={"n": n},
        occurred_at=timezone.now(),
        client_id=f"{email}-{n}",
    )


def test_a_flood_in_one_workspace_leaves_room_for_another_s_event(drain_held):
    flood, other = workspace("flood"), workspace("other")
    pending_events.store_events(
        flood.pk, [incoming(n, f"user{n % 7}@flood.test") for n in range(300)]
    )
    pending_events.store_events(other.pk, [incoming(0, "ada@other.test")])
    pending_events.store_events(flood.pk, [incoming(300, "user0@flood.test")])

    batch = pending_events.fair_batch(100)

    assert [row.workspace_id for row in batch].count(other.pk) == 1
    flood_rows = [row for row in batch if row.workspace_id == flood.pk]
    # The flood's share is its oldest events, in the order stored: a prefix
    # of its queue, so one contact's events are never taken out of order.
    oldest = PendingEvent.objects.filter(workspace=flood).order_by("id")[: len(flood_rows)]
    assert [row.pk for row in flood_rows] == [row.pk for row in oldest]
    assert [row.pk for row in batch] == sorted(row.pk for row in batch)
    assert len(batch) <= 100


def test_a_workspace_alone_still_gets_whole_batches(drain_held):
    alone = workspace("alone")
    pending_events.store_events(alone.pk, [incoming(n, f"user{n}@alone.test") for n in range(150)])

    batch = pending_events.fair_batch(100)

    assert len(batch) == 100
    assert [row.payload["data"]["n"] for row in batch] == list(range(100))


# Repeats `contact.loops` times, each summing 9,999 numbers: it runs until
# the template's CPU budget stops it.
SLOW = "{% for a in range(contact.loops) %}{{ (range(9999)|sum) and '' }}{% endfor %}"


def lock_is_free() -> bool:
    dsn = the_test_database_url().replace("postgres://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as other:
        taken = other.execute("SELECT pg_try_advisory_lock(%s)", [pending_events.DRAIN_LOCK_KEY])
        if taken.fetchone()[0]:
            other.execute("SELECT pg_advisory_unlock(%s)", [pending_events.DRAIN_LOCK_KEY])
            return True
    return False


def test_the_drain_starts_a_slow_workspace_s_runs_without_its_lock(settings):
    settings.EVENT_INTAKE = "queued"
    settings.TEMPLATE_MAX_SECONDS = 2.0
    settings.TEMPLATE_MAX_ITERATIONS = 1_000_000
    slow = workspace("slow")
    start = node("start", "trigger.event", event="signup")
    note = node("note", "action.update_contact", properties={"note": SLOW})
    published(graph([start, note], chain(start, note)), ws=slow)
    pending_events.store_events(
        slow.pk,
        [
            IncomingEvent(
                type="signup",
                contact=ContactRef(email="ada@slow.test", properties={"loops": 1_000_000}),
                data={},
                occurred_at=timezone.now(),
                client_id="slow-1",
            )
        ],
    )

    drainer = threading.Thread(target=lambda: (pending_events.drain(), connection.close()))
    drainer.start()
    # While the run exists (its batch committed) and has not finished
    # starting, the drain's lock is free: another drainer could take the
    # next batch (another workspace's events) meanwhile.
    seen_free = []

    def started_or_seen() -> bool:
        run = Run.objects.filter(workspace=slow).first()
        if run is None or PendingEvent.objects.filter(workspace=slow).exists():
            return False
        if run.status == RunStatus.RUNNING:
            seen_free.append(lock_is_free())
            return False
        return True

    wait_until(started_or_seen, timeout=60, interval=0.02, what="the run is started")
    drainer.join(timeout=60)

    assert seen_free and all(seen_free)
    run = Run.objects.get(workspace=slow)
    assert run.status == RunStatus.FAILED
    assert Step.objects.get(run=run, node_id="note").error == (
        "This template takes too long to fill in (over 2 seconds): "
        "simplify the template in Properties (note)"
    )
    # From now on its runs wait behind everyone else's (the low queue).
    assert slow.pk in tenancy.slow_workspaces()
