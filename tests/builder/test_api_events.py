"""POST /api/v1/events: one event or a batch, all or nothing, deduplicated by id.

Invariant: a refused batch stores nothing (no event, no contact, no run).
"""

from __future__ import annotations

import pytest
from django.conf import settings

from automation.models import Contact, Event, Run
from builder import services
from tests.builder.factories import ContactFactory

pytestmark = pytest.mark.django_db


def event(n: int = 0, **overrides) -> dict:
    body = {
        "id": f"evt-{n}",
        "type": "signup",
        "contact": {"email": f"person{n}@example.com"},
        "data": {"plan": "pro"},
        "occurred_at": "2025-01-02T03:04:05Z",
    }
    body.update(overrides)
    return body


def nothing_stored() -> bool:
    return not Event.objects.exists() and not Contact.objects.exists() and not Run.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/events/"])
def test_one_event(client_a, workspace_a, path):
    response = client_a.post(path, event(), format="json")

    assert response.status_code == 202, response.data
    assert response.data == {"accepted": 1, "duplicates": 0, "enrolled": 0}
    stored = Event.objects.get()
    assert stored.workspace == workspace_a
    assert stored.client_id == "evt-0"
    assert stored.data == {"plan": "pro"}
    assert stored.occurred_at.isoformat() == "2025-01-02T03:04:05+00:00"
    assert stored.contact.email == "person0@example.com"


def test_minimal_event_defaults_data_and_time(client_a):
    response = client_a.post(
        "/api/v1/events", {"type": "login", "contact": {"external_id": "u-1"}}, format="json"
    )

    assert response.status_code == 202
    stored = Event.objects.get()
    assert stored.data == {}
    assert stored.client_id is None
    assert stored.occurred_at is not None


def test_batch_deduplicates_within_and_across_requests(client_a):
    batch = {"events": [event(1), event(2), event(1)]}

    first = client_a.post("/api/v1/events", batch, format="json")
    second = client_a.post("/api/v1/events", {"events": [event(2), event(3)]}, format="json")

    assert first.status_code == 202
    assert first.data == {"accepted": 2, "duplicates": 1, "enrolled": 0}
    assert second.data == {"accepted": 1, "duplicates": 1, "enrolled": 0}
    assert Event.objects.count() == 3


def test_events_enrol_into_a_published_workflow(client_a, published_a):
    response = client_a.post(
        "/api/v1/events", {"events": [event(1), event(2, type="other")]}, format="json"
    )

    assert response.status_code == 202
    assert response.data["enrolled"] == 1
    run = Run.objects.get()
    assert run.workflow_id == published_a.pk
    assert run.contact.email == "person1@example.com"
    assert run.version.number == 1


def test_a_paused_workflow_enrols_nobody(client_a, published_a):
    services.change_status(published_a, "paused")

    response = client_a.post("/api/v1/events", event(), format="json")

    assert response.data == {"accepted": 1, "duplicates": 0, "enrolled": 0}
    assert not Run.objects.exists()


def test_event_contact_properties_update_the_contact(client_a, workspace_a):
    contact = ContactFactory(workspace=workspace_a, email="p@example.com", properties={"a": 1})

    client_a.post(
        "/api/v1/events",
        event(contact={"email": "p@example.com", "properties": {"b": 2, "a": None}}),
        format="json",
    )

    contact.refresh_from_db()
    assert contact.properties == {"b": 2}


def test_a_batch_over_the_limit_is_refused(client_a):
    batch = {"events": [event(n) for n in range(settings.EVENT_BATCH_MAX + 1)]}

    response = client_a.post("/api/v1/events", batch, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith("events:")
    assert str(settings.EVENT_BATCH_MAX) in response.data["detail"]
    assert nothing_stored()


def test_a_batch_at_the_limit_is_accepted(client_a, settings):
    settings.EVENT_BATCH_MAX = 5
    batch = {"events": [event(n) for n in range(5)]}

    response = client_a.post("/api/v1/events", batch, format="json")

    assert response.status_code == 202
    assert response.data["accepted"] == 5


def test_an_oversized_event_is_refused_naming_its_field(client_a):
    big = event(3, data={"blob": "x" * settings.EVENT_MAX_BYTES})
    batch = {"events": [event(0), event(1), event(2), big]}

    response = client_a.post("/api/v1/events", batch, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith("events[3].data:")
    assert str(settings.EVENT_MAX_BYTES) in response.data["detail"]
    assert nothing_stored()


def test_an_empty_batch_is_refused(client_a):
    response = client_a.post("/api/v1/events", {"events": []}, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith("events:")


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"contact": {"properties": {"a": 1}}}, "events[2].contact"),
        ({"contact": {}}, "events[2].contact"),
        ({"contact": None}, "events[2].contact"),
        ({"contact": {"email": "nope"}}, "events[2].contact.email"),
        ({"contact": {"email": "a@b.co", "time_zone": "Atlantis"}}, "events[2].contact.time_zone"),
        ({"type": ""}, "events[2].type"),
        ({"type": "t" * 201}, "events[2].type"),
        ({"type": None}, "events[2].type"),
        ({"id": "i" * 201}, "events[2].id"),
        ({"data": [1, 2]}, "events[2].data"),
        ({"data": "text"}, "events[2].data"),
        ({"occurred_at": "yesterday"}, "events[2].occurred_at"),
    ],
)
def test_one_bad_event_refuses_the_whole_batch(client_a, published_a, bad, field):
    batch = {"events": [event(0), event(1), event(2, **bad), event(3)]}

    response = client_a.post("/api/v1/events", batch, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith(f"{field}:"), response.data
    assert field in response.data["errors"]
    assert nothing_stored()


def test_a_missing_type_in_a_single_event_is_named(client_a):
    body = event()
    del body["type"]

    response = client_a.post("/api/v1/events", body, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith("type:")
    assert nothing_stored()


@pytest.mark.parametrize("body", ['"just text"', "[]", "{bad json"])
def test_a_body_that_is_not_an_event_is_a_400(client_a, body):
    response = client_a.post("/api/v1/events", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.data["detail"]
    assert nothing_stored()


def test_a_known_email_with_a_new_external_id_is_the_same_contact(client_a, workspace_a):
    known = ContactFactory(workspace=workspace_a, email="known@example.com")

    response = client_a.post(
        "/api/v1/events",
        event(contact={"email": "known@example.com", "external_id": "new-id"}),
        format="json",
    )

    assert response.status_code == 202, response.data
    known.refresh_from_db()
    assert known.external_id == "new-id"
    assert Event.objects.get().contact == known
    assert Contact.objects.count() == 1


def test_an_email_owned_by_another_external_id_is_refused(client_a, workspace_a):
    ContactFactory(workspace=workspace_a, email="known@example.com", external_id="old-id")
    other = event(1, contact={"email": "known@example.com", "external_id": "new-id"})

    response = client_a.post("/api/v1/events", {"events": [event(0), other]}, format="json")

    assert response.status_code == 409
    assert response.data["detail"].startswith("events[1].contact.email:")
    assert not Event.objects.exists()
    assert Contact.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_database_that_cannot_answer_in_time_is_a_json_503_not_an_html_500(client_a, workspace_a):
    # Invariant: when the database refuses for now (a lock held too long; on
    # SQLite, "database is locked"), the client gets JSON it can act on: 503
    # with Retry-After, and nothing was stored.
    import threading

    from django.db import connection, transaction

    contact = ContactFactory(workspace=workspace_a, email="busy@example.com")
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Contact.objects.select_for_update().get(pk=contact.pk)
                locked.set()
                release.wait(20)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        response = client_a.post(
            "/api/v1/events", event(contact={"email": "busy@example.com"}), format="json"
        )
    finally:
        release.set()
        holder.join()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")  # this connection serves later tests

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"]
    assert "try again" in response.json()["detail"]
    assert not Event.objects.exists()
