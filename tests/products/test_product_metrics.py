"""Metrics on a fixed data set match values computed by hand (docs/products.md),
with the default weights and with custom ones; bands move with hysteresis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation.ingest import ContactRef, IncomingEvent
from automation.models import Contact
from products import services
from products.metrics import band_of, next_band
from products.models import ADOPTION_BANDS, HEALTH_BANDS, BandCrossing, MetricPoint
from tests.builder.factories import WorkspaceFactory
from tests.products.factories import ProductFactory

pytestmark = pytest.mark.django_db


def usage(kind: str, email: str, ago=timedelta(hours=1), **data) -> IncomingEvent:
    return IncomingEvent(
        type=kind,
        contact=ContactRef(email=email),
        data=data,
        occurred_at=timezone.now() - ago,
    )


@pytest.fixture
def product():
    """Four users; reports targets 10 users, export targets the 'beta' tag (c1-c3)."""
    workspace = WorkspaceFactory()
    product = ProductFactory(
        workspace=workspace,
        features=[
            {"key": "reports", "name": "Reports", "target_size": 10},
            {"key": "export", "name": "Export", "target_tag": "beta"},
        ],
    )
    events = [
        *[usage("session", "c1@x.io") for _ in range(4)],
        usage("feature_used", "c1@x.io", feature="reports"),
        usage("feature_used", "c1@x.io", feature="export"),
        usage("nps", "c1@x.io", score=10),
        *[usage("session", "c2@x.io") for _ in range(2)],
        usage("feature_used", "c2@x.io", feature="reports"),
        usage("error", "c2@x.io", message="boom"),
        usage("nps", "c2@x.io", score=6),
        *[usage("session", "c3@x.io") for _ in range(2)],
        usage("nps", "c3@x.io", score=8),
        # 40 days ago: outside the 30-day window, never counted.
        usage("feature_used", "c3@x.io", ago=timedelta(days=40), feature="reports"),
        *[usage("session", "c4@x.io") for _ in range(2)],
        usage("feature_used", "c4@x.io", feature="export"),  # c4 is not in 'beta'
        usage("error", "c4@x.io"),
    ]
    services.record_usage(product, events)
    Contact.objects.filter(email__in=["c1@x.io", "c2@x.io", "c3@x.io"]).update(tags=["beta"])
    return product


def test_metrics_match_hand_computed_values_with_default_weights(product):
    services.refresh_product(product.pk)
    product.refresh_from_db()
    m = product.metrics
    # 19 usage events in the window from 4 users: 10 sessions, 2 errors, NPS 1 promoter,
    # 1 detractor, 1 passive.
    assert (m["usage_events"], m["active_users"], m["sessions"], m["errors"]) == (19, 4, 10, 2)
    assert m["features"]["reports"]["adoption"] == 20.0  # c1, c2 of 10
    assert m["features"]["export"]["adoption"] == 33.3  # c1 of the 3 in beta (c4 is not)
    assert m["engagement"] == 2.5
    assert m["error_rate"] == 10.53
    assert m["nps"] == 0.0
    # adoption (20 + 33.3) / 2 = 26.65; engagement 2.5/10 → 25; reliability 100·17/19
    # = 89.47; NPS (0 + 100) / 2 = 50.
    # .35·26.65 + .25·25 + .25·89.47 + .15·50 = 45.45
    assert m["components"] == {
        "adoption": 26.6,
        "engagement": 25.0,
        "reliability": 89.5,
        "nps": 50.0,
    }
    assert m["health_score"] == 45.4
    point = MetricPoint.objects.get(product=product)
    assert point.metrics["health_score"] == 45.4
    assert point.metrics["features"] == {"reports": 20.0, "export": 33.3}


def test_custom_weights_change_the_health_score(product):
    services.set_configuration(
        product, {"weights": {"adoption": 1, "engagement": 0, "reliability": 1, "nps": 0}}
    )
    services.refresh_product(product.pk)
    product.refresh_from_db()
    # (26.65 + 89.47) / 2 = 58.06
    assert product.metrics["health_score"] == 58.1


def test_no_usage_in_the_window_means_no_health_score(product):
    services.set_configuration(product, {"window_days": 1, "weights": {"nps": 0.15}})
    services.refresh_product(product.pk, now=timezone.now() + timedelta(days=2))
    product.refresh_from_db()
    # Nothing in the window: no health score at all, and no band entered.
    assert product.metrics["health_score"] is None
    assert product.metrics["active_users"] == 0
    assert not BandCrossing.objects.filter(product=product, metric="product_health").exists()


def test_first_computation_enters_bands_once(product):
    services.refresh_product(product.pk)
    services.mark_dirty([product.pk])
    services.refresh_product(product.pk)
    crossings = {
        (c.metric, c.feature_key): (c.from_band, c.to_band)
        for c in BandCrossing.objects.filter(product=product)
    }
    assert crossings == {
        ("feature_adoption", "reports"): ("", "medium"),
        ("feature_adoption", "export"): ("", "medium"),
        ("product_health", ""): ("", "declining"),
    }


@pytest.mark.parametrize(
    ("current", "value", "expected"),
    [
        (None, 10, "low"),
        ("low", 21, "low"),  # past 20, but not by the margin of 2
        ("low", 22, "medium"),
        ("low", 65, "high"),  # past two edges at once: the band reached
        ("high", 59, "high"),  # wobbling under 60: stays
        ("high", 61, "high"),
        ("high", 57.9, "medium"),
        ("high", 83, "growth"),
        ("growth", 78.5, "growth"),
        ("growth", 10, "low"),
    ],
)
def test_hysteresis(current, value, expected):
    assert next_band(current, value, [20, 60, 80], ADOPTION_BANDS, 2) == expected


def test_band_edges_are_inclusive_from_below():
    assert band_of(40, [40, 60, 80], HEALTH_BANDS) == "declining"
    assert band_of(39.9, [40, 60, 80], HEALTH_BANDS) == "critical"
    assert band_of(80, [40, 60, 80], HEALTH_BANDS) == "optimal"
