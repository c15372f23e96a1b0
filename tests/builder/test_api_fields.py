"""GET /api/v1/fields: the rule builder offers the fields rules can reach, from real data.

Invariants: every field offered resolves in a run's scope (automation/rules.py);
nothing of another workspace leaks; the sample is bounded (two queries, however
many contacts and events there are).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.models import Contact, Event
from automation.rules import MISSING, now_scope, resolve
from builder import fields
from tests.builder.factories import ContactFactory

pytestmark = pytest.mark.django_db


def event(workspace, contact, event_type: str, data: dict) -> Event:
    return Event.objects.create(
        workspace=workspace,
        contact=contact,
        type=event_type,
        data=data,
        occurred_at=datetime.now(UTC),
    )


@pytest.fixture
def data_a(workspace_a, workspace_b):
    ada = ContactFactory(
        workspace=workspace_a,
        properties={"plan": "pro", "first_name": "Ada", "address": {"city": "Paris"}},
        engagement={"opens": 3},
    )
    ContactFactory(workspace=workspace_a, properties={"Company": "Acme", "dotted.key": 1})
    event(workspace_a, ada, "cart_created", {"total": 42, "items": [{"sku": "A"}]})
    event(workspace_a, ada, "cart_created", {"currency": "EUR"})
    event(workspace_a, ada, "signup", {"source": {"campaign": "spring"}})
    theirs = ContactFactory(workspace=workspace_b, properties={"secret_b": 1})
    event(workspace_b, theirs, "b_only", {"hidden": True})
    return ada


def test_fields_list_contact_properties_event_data_engagement_and_time(client_a, data_a):
    response = client_a.get("/api/v1/fields")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"contact", "event", "events", "engagement", "now"}
    assert body["contact"] == [
        "contact.id",
        "contact.email",
        "contact.external_id",
        "contact.tags",
        "contact.time_zone",
        "contact.properties.address",
        "contact.properties.address.city",
        "contact.properties.Company",
        "contact.properties.first_name",
        "contact.properties.plan",
    ]
    assert body["event"] == ["event.id", "event.type", "event.occurred_at"]
    assert body["events"] == {
        "cart_created": ["event.data.currency", "event.data.items", "event.data.total"],
        "signup": ["event.data.source", "event.data.source.campaign"],
    }
    assert "engagement.opens" in body["engagement"]
    assert "engagement.last_seen" in body["engagement"]
    assert "engagement.clicks" in body["engagement"]
    assert "now.weekday" in body["now"]
    assert "now.hour" in body["now"]


def test_every_field_offered_resolves_in_a_run_scope(client_a, data_a):
    body = client_a.get("/api/v1/fields").json()
    cart = Event.objects.filter(type="cart_created", data__has_key="total").get()
    scope = {
        "contact": data_a.snapshot(),
        "event": cart.snapshot(),
        "engagement": {"opens": 3, "clicks": 0, "last_seen": None},
        "now": now_scope(datetime.now(UTC), "UTC"),
    }
    offered = [
        *[f for f in body["contact"] if f not in ("contact.properties.Company",)],
        *body["event"],
        "event.data.total",
        "event.data.items",
        *body["now"],
    ]

    unresolved = [field for field in offered if resolve(field, scope) is MISSING]

    assert unresolved == []


def test_fields_of_another_workspace_never_show(client_a, data_a):
    text = client_a.get("/api/v1/fields").content.decode()

    assert "secret_b" not in text
    assert "b_only" not in text
    assert "hidden" not in text


def test_an_empty_workspace_still_gets_the_fixed_fields(client_b):
    body = client_b.get("/api/v1/fields").json()

    assert "contact.email" in body["contact"]
    assert body["events"] == {}
    assert "now.weekday" in body["now"]


def test_a_viewer_may_read_the_fields(client_for, data_a):
    assert client_for("viewer").get("/api/v1/fields").status_code == 200


def test_anonymous_callers_are_refused(client):
    assert client.get("/api/v1/fields").status_code == 401


def test_the_sample_is_the_most_recently_updated_contacts_in_two_queries(workspace_a):
    old = ContactFactory(workspace=workspace_a, properties={"old_key": 1})
    Contact.objects.filter(pk=old.pk).update(updated_at=datetime(2020, 1, 1, tzinfo=UTC))
    Contact.objects.bulk_create(
        Contact(workspace=workspace_a, properties={"recent_key": n})
        for n in range(fields.SAMPLE_SIZE)
    )

    with CaptureQueriesContext(connection) as captured:
        offered = fields.rule_fields(workspace_a.pk)

    assert len(captured) == 2
    assert "contact.properties.recent_key" in offered["contact"]
    assert "contact.properties.old_key" not in offered["contact"]
