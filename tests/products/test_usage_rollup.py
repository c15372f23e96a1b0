"""The usage rollup: metrics are computed from per-day rows kept as usage is
stored, never by rescanning the window's events; and usage that names a
product in POST /api/v1/events counts exactly as the product endpoint's does
(the same check, the same recomputation), whichever intake stores it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automation import pending_events
from automation.ingest import ContactRef, IncomingEvent
from automation.models import Event
from products import services
from products.models import FeatureUseDay, Product, UsageDay
from tests.products.factories import ProductFactory

pytestmark = pytest.mark.django_db


def usage(kind: str, email: str, client_id=None, ago=timedelta(hours=1), **data):
    return IncomingEvent(
        type=kind,
        contact=ContactRef(email=email),
        data=data,
        occurred_at=timezone.now() - ago,
        client_id=client_id,
    )


@pytest.fixture
def product(workspace_a):
    return ProductFactory(
        workspace=workspace_a, name="Atlas", features=[{"key": "reports", "target_size": 4}]
    )


def test_usage_is_rolled_up_per_contact_and_day_as_it_is_stored(product):
    services.record_usage(
        product,
        [
            usage("session", "a@x.io", client_id="1"),
            usage("feature_used", "a@x.io", client_id="2", feature="reports"),
            usage("nps", "a@x.io", client_id="3", score=9),
            usage("error", "b@x.io", client_id="4"),
            usage("session", "b@x.io", client_id="5", ago=timedelta(days=3)),
        ],
    )
    # A second batch adds to the same day's row; a duplicate (same id) adds nothing.
    services.record_usage(
        product,
        [
            usage("session", "a@x.io", client_id="6"),
            usage("session", "a@x.io", client_id="1"),
            usage("feature_used", "a@x.io", client_id="7", feature="reports"),
        ],
    )
    today = timezone.now() - timedelta(hours=1)
    rows = {
        (row.contact.email, (today.date() - row.day).days): (
            row.events,
            row.sessions,
            row.errors,
            row.nps_responses,
            row.promoters,
            row.detractors,
        )
        for row in UsageDay.objects.select_related("contact")
    }
    assert rows == {
        ("a@x.io", 0): (5, 2, 0, 1, 1, 0),
        ("b@x.io", 0): (1, 0, 1, 0, 0, 0),
        ("b@x.io", 3): (1, 1, 0, 0, 0, 0),
    }
    assert list(FeatureUseDay.objects.values_list("feature_key", "contact__email", "uses")) == [
        ("reports", "a@x.io", 2)
    ]


def test_a_computation_reads_the_rollup_not_the_events(product):
    services.record_usage(
        product,
        [usage("session", f"u{n}@x.io") for n in range(20)]
        + [usage("feature_used", f"u{n}@x.io", feature="reports") for n in range(3)],
    )
    with CaptureQueriesContext(connection) as queries:
        services.refresh_product(product.pk)
    # (The crossings it fires store their events; it reads none.)
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert reads and not [sql for sql in reads if '"automation_event"' in sql]
    product.refresh_from_db()
    assert product.metrics["usage_events"] == 23
    assert product.metrics["active_users"] == 20
    assert product.metrics["features"]["reports"]["adoption"] == 75.0  # 3 of 4


# ---------------------------------------------------------------- POST /api/v1/events


def plain(client, *events) -> dict:
    response = client.post("/api/v1/events", {"events": list(events)}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def test_usage_sent_to_plain_events_counts_like_the_product_endpoint(product, client_a, client_b):
    services.refresh_product(product.pk)
    other = ProductFactory(name="Other", features=[{"key": "reports"}])
    plain(
        client_a,
        {"id": "1", "type": "feature_used", "contact": {"email": "a@x.io"},
         "data": {"product": product.pk, "feature": "reports"}},
        # Checked as the product endpoint checks it: not counted (but stored, and
        # an ordinary event for contact workflows).
        {"id": "2", "type": "feature_used", "contact": {"email": "b@x.io"},
         "data": {"product": product.pk, "feature": "nope"}},
        {"id": "3", "type": "nps", "contact": {"email": "b@x.io"},
         "data": {"product": product.pk, "score": 11}},
        {"id": "4", "type": "session", "contact": {"email": "c@x.io"},
         "data": {"product": str(product.pk)}},
        # Another workspace's product: never counted there.
        {"id": "5", "type": "session", "contact": {"email": "d@x.io"},
         "data": {"product": other.pk}},
        # A feature that is not a key at all: stored, not counted.
        {"id": "7", "type": "feature_used", "contact": {"email": "b@x.io"},
         "data": {"product": product.pk, "feature": {"key": "reports"}}},
        {"id": "8", "type": "feature_used", "contact": {"email": "b@x.io"},
         "data": {"product": product.pk, "feature": ["reports"]}},
    )  # fmt: skip
    plain(
        client_b,
        {"id": "6", "type": "feature_used", "contact": {"email": "e@x.io"},
         "data": {"product": product.pk, "feature": "reports"}},
    )  # fmt: skip

    # The product is marked for the next computation, as the product endpoint marks it.
    product.refresh_from_db()
    assert product.dirty_at is not None
    assert Product.objects.get(pk=other.pk).dirty_at is not None  # from its creation only
    services.refresh_due_products()
    product.refresh_from_db()
    assert (product.metrics["usage_events"], product.metrics["active_users"]) == (1, 1)
    assert product.metrics["features"]["reports"]["users"] == 1
    other.refresh_from_db()
    assert other.metrics["usage_events"] == 0


def test_usage_through_the_queued_intake_counts_too(product, client_a, settings):
    settings.EVENT_INTAKE = "queued"
    services.refresh_product(product.pk)
    body = {
        "id": "q1",
        "type": "feature_used",
        "contact": {"email": "a@x.io"},
        "data": {"product": product.pk, "feature": "reports"},
    }
    assert client_a.post("/api/v1/events", body, format="json").status_code == 202
    product.refresh_from_db()
    assert product.dirty_at is None  # stored, not yet ingested
    assert pending_events.drain().ingested == 1
    product.refresh_from_db()
    assert product.dirty_at is not None
    services.refresh_due_products()
    product.refresh_from_db()
    assert product.metrics["features"]["reports"]["users"] == 1


def test_a_feature_that_is_no_key_never_holds_up_the_drain(product, client_a, settings):
    settings.EVENT_INTAKE = "queued"
    services.refresh_product(product.pk)
    hostile = {
        "id": "h1",
        "type": "feature_used",
        "contact": {"email": "a@x.io"},
        "data": {"product": product.pk, "feature": {"nested": ["reports"]}},
    }
    good = {**hostile, "id": "h2", "data": {"product": product.pk, "feature": "reports"}}
    assert client_a.post("/api/v1/events", hostile, format="json").status_code == 202
    assert client_a.post("/api/v1/events", good, format="json").status_code == 202

    assert pending_events.drain().ingested == 2

    assert Event.objects.filter(client_id__in=["h1", "h2"]).count() == 2
    services.refresh_due_products()
    product.refresh_from_db()
    assert product.metrics["usage_events"] == 1
