"""POST /api/v1/events with the queued intake (EVENT_INTAKE=queued, the production default).

Invariants: the event is stored durably before the 202 and nothing else
happens in the request; a drain ingests pending events in the order they
were stored (so one contact's events keep their order) and deduplicates by
the sender's id across pending and ingested events; bad input is still a
400 naming the field with nothing stored; a drainer killed mid-batch loses
nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from automation import pending_events
from automation.models import Contact, Event, PendingEvent, Run, RunStatus
from builder import services
from tests.builder.factories import ContactFactory, published_workflow, signup_graph
from tests.conftest import ROOT, the_test_database_url, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def queued(settings):
    settings.EVENT_INTAKE = "queued"


def event(n: int = 0, **overrides) -> dict:
    body = {
        "id": f"evt-{n}",
        "type": "signup",
        "contact": {"email": f"person{n}@example.com"},
        "data": {"n": n},
        "occurred_at": "2025-01-02T03:04:05Z",
    }
    body.update(overrides)
    return body


def test_a_single_event_is_stored_and_answered_then_enrolled_by_the_drain(client_a, published_a):
    response = client_a.post("/api/v1/events", event(), format="json")

    # The answer says what is known: stored, not a duplicate; enrolment comes after.
    assert response.status_code == 202, response.data
    assert response.data == {"accepted": 1, "duplicates": 0, "enrolled": None}
    pending = PendingEvent.objects.get()
    assert pending.client_id == "evt-0"
    assert pending.payload["contact"]["email"] == "person0@example.com"
    assert not Event.objects.exists() and not Run.objects.exists()

    assert pending_events.drain().ingested == 1

    assert not PendingEvent.objects.exists()
    stored = Event.objects.get()
    assert stored.client_id == "evt-0"
    assert stored.data == {"n": 0}
    assert stored.occurred_at.isoformat() == "2025-01-02T03:04:05+00:00"
    run = Run.objects.get()
    assert run.workflow_id == published_a.pk
    assert run.contact.email == "person0@example.com"


def test_a_batch_is_stored_whole_and_counted(client_a):
    response = client_a.post(
        "/api/v1/events", {"events": [event(1), event(2), event(1)]}, format="json"
    )

    assert response.status_code == 202
    assert response.data == {"accepted": 2, "duplicates": 1, "enrolled": None}
    assert PendingEvent.objects.count() == 2


def test_an_id_is_a_duplicate_whether_pending_or_already_ingested(client_a):
    first = client_a.post("/api/v1/events", event(1), format="json")
    pending_twin = client_a.post("/api/v1/events", event(1), format="json")
    pending_events.drain()
    ingested_twin = client_a.post("/api/v1/events", event(1), format="json")
    pending_events.drain()

    assert first.data["accepted"] == 1
    assert pending_twin.data == {"accepted": 0, "duplicates": 1, "enrolled": None}
    assert ingested_twin.data == {"accepted": 0, "duplicates": 1, "enrolled": None}
    assert Event.objects.filter(client_id="evt-1").count() == 1
    assert not PendingEvent.objects.exists()


def test_one_contacts_events_are_ingested_in_the_order_they_were_sent(client_a, workspace_a):
    # Re-enrolment "never": only the contact's first signup may enrol, and
    # the last properties sent win. Small drain batches put the events in
    # different transactions, as under load.
    workflow = published_workflow(workspace_a, graph=signup_graph())
    for n in range(1, 6):
        for who in ("ada", "bob"):
            body = event(
                n,
                id=f"{who}-{n}",
                contact={"email": f"{who}@example.com", "properties": {"last": n}},
            )
            assert client_a.post("/api/v1/events", body, format="json").status_code == 202

    assert pending_events.drain(batch=3).ingested == 10

    for who in ("ada", "bob"):
        contact = Contact.objects.get(email=f"{who}@example.com")
        assert contact.properties == {"last": 5}
        run = Run.objects.get(contact=contact, workflow=workflow)
        assert run.trigger_event.client_id == f"{who}-1"
        ids = list(
            Event.objects.filter(contact=contact)
            .order_by("received_at")
            .values_list("client_id", flat=True)
        )
        assert ids == [f"{who}-{n}" for n in range(1, 6)]


def test_bad_input_is_refused_naming_the_field_with_nothing_stored(client_a):
    response = client_a.post(
        "/api/v1/events", {"events": [event(0), event(1, contact={})]}, format="json"
    )

    assert response.status_code == 400
    assert response.data["detail"].startswith("events[1].contact")
    assert not PendingEvent.objects.exists()


def test_an_email_owned_by_another_external_id_is_refused_in_the_request(client_a, workspace_a):
    ContactFactory(workspace=workspace_a, email="known@example.com", external_id="old-id")
    other = event(1, contact={"email": "known@example.com", "external_id": "new-id"})

    response = client_a.post("/api/v1/events", {"events": [event(0), other]}, format="json")

    assert response.status_code == 409
    assert response.data["detail"].startswith("events[1].contact.email:")
    assert not PendingEvent.objects.exists()


def test_an_email_taken_after_the_answer_is_kept_aside_and_the_others_go_on(client_a, workspace_a):
    # Between the 202 and the drain, the email becomes another external id's:
    # that event stays pending with the reason; the rest of the batch is ingested.
    linked = event(1, contact={"email": "late@example.com", "external_id": "new-id"})
    response = client_a.post("/api/v1/events", {"events": [event(0), linked]}, format="json")
    assert response.status_code == 202
    ContactFactory(workspace=workspace_a, email="late@example.com", external_id="old-id")

    assert pending_events.drain().ingested == 2

    assert list(Event.objects.values_list("client_id", flat=True)) == ["evt-0"]
    refused = PendingEvent.objects.get()
    assert refused.client_id == "evt-1"
    assert "belongs to the contact with external_id 'old-id'" in refused.error
    assert pending_events.drain().ingested == 0  # a refused event is not tried for ever


@pytest.fixture
def ingest_breaks_on_type_explodes():
    """An app's receiver of events_stored that fails on one kind of event, as a bug
    in any part of ingest would: the fault is real, only where it strikes is chosen."""
    from automation.ingest import events_stored

    def explode(sender, *, events, **_):
        if any(stored.type == "explodes" for stored in events):
            raise ValueError("a receiver broke on this event")

    events_stored.connect(explode, dispatch_uid="test.explodes")
    yield
    events_stored.disconnect(dispatch_uid="test.explodes")


def test_an_event_that_breaks_ingest_is_kept_aside_and_the_rest_go_on(
    client_a, ingest_breaks_on_type_explodes
):
    batch = {"events": [event(0), event(1, type="explodes"), event(2)]}
    assert client_a.post("/api/v1/events", batch, format="json").status_code == 202
    assert client_a.post("/api/v1/events", event(3), format="json").status_code == 202

    assert pending_events.drain().ingested == 4

    assert sorted(Event.objects.values_list("client_id", flat=True)) == ["evt-0", "evt-2", "evt-3"]
    kept = PendingEvent.objects.get()
    assert kept.client_id == "evt-1"
    assert kept.error == "ingest failed: ValueError: a receiver broke on this event"
    assert pending_events.drain().ingested == 0  # kept aside, not tried for ever


def test_a_paused_workflow_enrols_nobody(client_a, published_a):
    services.change_status(published_a, "paused")

    client_a.post("/api/v1/events", event(), format="json")
    pending_events.drain()

    assert Event.objects.count() == 1
    assert not Run.objects.exists()


# ------------------------------------------------------------------ real worker

KILLED_MID_DRAIN = """
import os, sys, time
import django
django.setup()
from automation import pending_events

real = pending_events.ingest_events

def ingest_then_hang(*args, **kwargs):
    result = real(*args, **kwargs)   # written, not committed
    print("ingested", flush=True)
    time.sleep(600)
    return result

pending_events.ingest_events = ingest_then_hang
pending_events.drain()
"""


QUEUES = ("high", "normal", "low")


@pytest.mark.django_db(transaction=True)
def test_a_drainer_killed_before_commit_loses_nothing(celery_worker, client_a, workspace_a):
    # Invariant: the 202 comes after the event is committed; a drain killed
    # (kill -9) after ingesting but before committing leaves it pending, and
    # the worker enrols it once it is back.
    from config.celery import app

    workflow = published_workflow(workspace_a, graph=signup_graph())
    for queue in QUEUES:
        replies = app.control.cancel_consumer(queue, reply=True, timeout=5)
        assert replies, f"the worker did not stop consuming {queue}"
    try:
        response = client_a.post("/api/v1/events", event(7), format="json")
        assert response.status_code == 202
        assert PendingEvent.objects.filter(client_id="evt-7").exists()

        drainer = subprocess.Popen(
            [sys.executable, "-c", KILLED_MID_DRAIN],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": the_test_database_url()},
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert drainer.stdout.readline().strip() == "ingested"
        finally:
            os.kill(drainer.pid, signal.SIGKILL)
            drainer.wait(10)

        assert PendingEvent.objects.filter(client_id="evt-7").exists()
        assert not Event.objects.exists()
        assert not Run.objects.exists()
    finally:
        for queue in QUEUES:
            app.control.add_consumer(queue, reply=True, timeout=5)

    run = wait_until(
        lambda: Run.objects.filter(workflow=workflow, status=RunStatus.COMPLETED).first(),
        timeout=30,
        what="the worker enrols the pending event and completes its run",
    )
    assert run.contact.email == "person7@example.com"
    assert run.contact.tags == ["welcomed"]
    assert Event.objects.get().client_id == "evt-7"
    assert not PendingEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_single_events_reach_the_worker_without_a_push(celery_worker, client_a, workspace_a):
    # The request wakes the drain itself (one message per burst): runs
    # complete within moments, not at the next beat tick only.
    workflow = published_workflow(workspace_a, graph=signup_graph())

    for n in range(20):
        response = client_a.post("/api/v1/events", event(n), format="json")
        assert response.status_code == 202

    wait_until(
        lambda: Run.objects.filter(workflow=workflow, status=RunStatus.COMPLETED).count() == 20,
        timeout=30,
        what="20 runs completed",
    )
    assert Event.objects.count() == 20
    assert not PendingEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_runs_keep_completing_while_single_events_keep_arriving(
    celery_worker, client_a, workspace_a
):
    # One drain message is in flight at a time: drains that found another
    # draining used to queue more drains, until they took every worker
    # process and no run completed until the stream stopped.
    workflow = published_workflow(workspace_a, graph=signup_graph())
    completed = Run.objects.filter(workflow=workflow, status=RunStatus.COMPLETED)
    seconds, samples, sent = 9.0, [], 0
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        response = client_a.post("/api/v1/events", event(sent), format="json")
        assert response.status_code == 202
        sent += 1
        if sent % 25 == 0:
            samples.append((time.monotonic() - began, completed.count()))

    last_third = [count for at, count in samples if at >= seconds * 2 / 3]
    before = [count for at, count in samples if at < seconds * 2 / 3]
    assert last_third[-1] > before[-1], f"no run completed in the last third: {samples}"
    wait_until(lambda: completed.count() == sent, timeout=60, what=f"{sent} runs completed")


def test_the_openapi_schema_says_enrolled_may_be_null(client_a):
    # The contract changed deliberately: clients generated from the schema
    # must accept `"enrolled": null`.
    response = client_a.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json() if hasattr(response, "json") else response.data
    enrolled = schema["components"]["schemas"]["IngestResult"]["properties"]["enrolled"]
    assert enrolled["type"] == ["integer", "null"]  # OpenAPI 3.1
