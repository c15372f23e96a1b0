"""One workspace's heavy template does not stall another workspace (production shape).

Invariant (DESIGN.md, "Tenancy"): with one workspace's workflow firing
continuously with a template that burns its whole budget, on a real Celery
worker with the queued intake, another workspace's single event is
ingested, started and completed while the heavy workflow is still firing,
and every heavy run fails on its step with the budget's error (not
retried, not left running). Speed is measured in bench/noisy_neighbour.py.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from automation import pending_events, tenancy
from automation.ingest import ContactRef, IncomingEvent
from automation.models import Run, RunStatus
from tests.automation.workflows import chain, graph, node, published, workspace
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_slow_marks_before_or_after():
    tenancy.forget()
    yield
    tenancy.forget()


# 9,000 loops, each summing 9,999 numbers: stopped by TEMPLATE_MAX_SECONDS
# (0.5 s on the worker) before it ends.
HEAVY = "{% for a in range(9000) %}{{ (range(9999)|sum) and '' }}{% endfor %}"


def event(kind: str, email: str) -> IncomingEvent:
    return IncomingEvent(
        type=kind,
        contact=ContactRef(email=email),
        data={},
        occurred_at=timezone.now(),
        client_id=f"{kind}-{email}",
    )


def test_another_workspace_s_event_completes_while_a_heavy_template_fires(celery_worker, settings):
    settings.EVENT_INTAKE = "queued"
    noisy, quiet = workspace("noisy"), workspace("quiet")
    start = node("start", "trigger.event", event="noisy")
    heavy = node("heavy", "action.update_contact", properties={"note": HEAVY})
    published(graph([start, heavy], chain(start, heavy), reenrollment="always"), ws=noisy)
    start = node("start", "trigger.event", event="signup")
    tag = node("tag", "action.tag", add=["welcomed"])
    published(graph([start, tag], chain(start, tag)), ws=quiet)

    stop = threading.Event()

    def fire() -> None:
        n = 0
        while not stop.is_set():
            pending_events.store_events(noisy.pk, [event("noisy", f"user{n}@noisy.test")])
            n += 1
            time.sleep(0.2)
        connection.close()

    firing = threading.Thread(target=fire)
    firing.start()
    try:
        wait_until(
            lambda: Run.objects.filter(workspace=noisy, status=RunStatus.FAILED).exists(),
            timeout=60,
            what="the heavy workflow's runs fail on the budget",
        )
        pending_events.store_events(quiet.pk, [event("signup", "ada@quiet.test")])
        wait_until(
            lambda: Run.objects.filter(workspace=quiet, status=RunStatus.COMPLETED).exists(),
            timeout=60,
            what="the other workspace's run completes",
        )
        still_firing = firing.is_alive()
    finally:
        stop.set()
        firing.join()

    assert still_firing
    errors = set(
        Run.objects.filter(workspace=noisy, status=RunStatus.FAILED).values_list("error", flat=True)
    )
    assert errors == {
        "heavy: This template takes too long to fill in (over 0.5 seconds): "
        "simplify the template in Properties (note)"
    }
