"""The event drain starts the runs it enrols, in its own transaction (engine.start_enrolled).

Invariants: a drain that has caught up (its batch is not full) starts the
runs it enrolled, a drain behind a backlog leaves them to the workers; a run
started by the drain ends exactly where a worker would have left it (same
path, same contact changes, nothing the event itself brought lost); runs of
low-priority workflows, a second run of one contact and a run that reaches
an outside call are left to their queue, unleased, before the call; a run
that cannot be started leaves the enrolments standing and goes to its
queue, where it fails alone.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from automation import pending_events
from automation.engine import Outcome, advance_run
from automation.ingest import ContactRef, IncomingEvent
from automation.models import Contact, Event, PendingEvent, Run, RunStatus, StepStatus
from builder import services
from tests.automation.test_engine__poison import poisoned_workflow
from tests.automation.test_engine__together import scoring_flow
from tests.automation.workflows import chain, graph, node, path_of, published, workspace
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db


def pending(event_type: str, email: str, *, data: dict | None = None, properties=None) -> None:
    """As POST /api/v1/events leaves an event with the queued intake."""
    pending_events.store_events(
        workspace().pk,
        [
            IncomingEvent(
                type=event_type,
                contact=ContactRef(email=email, properties=properties),
                data=data or {},
                occurred_at=timezone.now(),
            )
        ],
    )


def drained() -> int:
    result = pending_events.drain()
    assert not PendingEvent.objects.exists()
    return result.ingested


def test_runs_the_drain_enrols_are_completed_by_it_as_a_worker_would():
    scoring_flow()
    for n in range(10):
        pending("bench", f"c{n}@example.com", data={"score": n * 11})

    assert drained() == 10

    # No worker and no executor ran here: the drain did it.
    runs = list(Run.objects.select_related("contact", "trigger_event"))
    assert len(runs) == 10
    for run in runs:
        score = run.trigger_event.data["score"]
        segment = "hot" if score > 50 else "cold"
        assert run.status == RunStatus.COMPLETED
        assert path_of(run) == ["start", "score", segment, "end"]
        assert run.contact.properties == {"segment": segment, "score": str(score)}
        assert run.lease_until is None and run.finished_at is not None


def test_what_the_event_brought_is_kept_beside_what_the_run_changed():
    scoring_flow()
    pending("bench", "ada@example.com", data={"score": 80}, properties={"plan": "pro"})

    drained()

    contact = Contact.objects.get(email="ada@example.com")
    assert contact.properties == {"plan": "pro", "segment": "hot", "score": "80"}
    assert contact.last_seen_at is not None
    assert Run.objects.get().status == RunStatus.COMPLETED


def test_a_low_priority_workflows_runs_wait_for_their_queue():
    workflow = scoring_flow()
    services.update_workflow(workflow, priority="low")
    pending("bench", "low@example.com", data={"score": 80})

    drained()

    run = Run.objects.get()
    assert run.status == RunStatus.RUNNING and run.current_node == "start"
    assert path_of(run) == []
    assert run.lease_until is None and run.queued_at is not None  # queued, not taken
    assert advance_run(run.pk) is Outcome.COMPLETED
    assert path_of(run) == ["start", "score", "hot", "end"]


def test_a_second_run_of_one_contact_goes_to_the_queue_and_both_changes_stay():
    scoring_flow()
    pending("bench", "same@example.com", data={"score": 90})
    pending("bench", "same@example.com", data={"score": 10})

    drained()

    first, second = Run.objects.order_by("created_at")
    assert first.status == RunStatus.COMPLETED
    assert second.status == RunStatus.RUNNING and path_of(second) == []
    assert second.lease_until is None
    assert advance_run(second.pk) is Outcome.COMPLETED
    contact = Contact.objects.get(email="same@example.com")
    assert contact.properties == {"segment": "cold", "score": "10"}


def test_a_run_reaching_an_outside_call_is_queued_before_it(http_target):
    start = node("start", "trigger.event", event="bench")
    tag = node("tag", "action.tag", add=["seen"])
    hook = node("hook", "action.webhook", method="POST", url=f"{http_target.url}/sink")
    published(graph([start, tag, hook], chain(start, tag, hook)))
    pending("bench", "a@example.com")

    drained()

    run = Run.objects.get()
    assert http_target.requests == []
    assert run.status == RunStatus.RUNNING and run.current_node == "hook"
    assert path_of(run) == ["start", "tag"]
    assert run.contact.tags == ["seen"]
    # Queued, not taken: no lease for the reaper to find lapsed while it waits.
    assert run.lease_until is None
    assert advance_run(run.pk) is Outcome.COMPLETED
    assert len(http_target.requests) == 1


def test_a_run_that_cannot_be_started_leaves_the_enrolments_and_fails_alone():
    poisoned_workflow()
    scoring_flow()
    pending("signup", "poison@example.com")
    pending("bench", "fine@example.com", data={"score": 70})

    assert drained() == 2

    # The start rolled back whole; the events, contacts and runs stand.
    assert Event.objects.count() == 2
    poisoned, fine = Run.objects.order_by("created_at")
    assert path_of(poisoned) == [] and path_of(fine) == []
    assert {poisoned.status, fine.status} == {RunStatus.RUNNING}
    advance_run(poisoned.pk)
    advance_run(fine.pk)
    poisoned.refresh_from_db()
    fine.refresh_from_db()
    assert poisoned.status == RunStatus.FAILED
    assert poisoned.steps.get(node_id="enroll").status == StepStatus.FAILED
    assert fine.status == RunStatus.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_queued_runs_are_taken_by_the_worker(celery_worker, http_target):
    # What the drain leaves to a queue reaches it after commit: a low-priority
    # run and a run before its outside call both complete on the worker.
    low = scoring_flow()
    services.update_workflow(low, priority="low")
    start = node("start", "trigger.event", event="ping")
    hook = node("hook", "action.webhook", method="POST", url=f"{http_target.url}/sink")
    published(graph([start, hook], chain(start, hook)), name="Hook")
    pending("bench", "low@example.com", data={"score": 10})
    pending("ping", "hook@example.com")

    wait_until(
        lambda: Run.objects.filter(status=RunStatus.COMPLETED).count() == 2,
        timeout=30,
        what="the low-priority run and the webhook run completed on the worker",
    )
    assert len(http_target.requests) == 1
    assert path_of(Run.objects.get(workflow=low)) == ["start", "score", "cold", "end"]


def test_a_full_batch_is_a_backlog_left_to_the_workers():
    # A drain that is behind (its batch came back full) hands the batch's
    # runs to the workers, which advance them in parallel while it takes the
    # next batch; once it has caught up, it starts them itself.
    scoring_flow()
    for n in range(3):
        pending("bench", f"c{n}@example.com", data={"score": 90})

    assert pending_events.drain(batch=2).ingested == 3

    first, second, third = Run.objects.order_by("created_at")
    for queued in (first, second):
        assert queued.status == RunStatus.RUNNING and path_of(queued) == []
        assert queued.lease_until is None
    assert third.status == RunStatus.COMPLETED
    assert advance_run(first.pk) is Outcome.COMPLETED
