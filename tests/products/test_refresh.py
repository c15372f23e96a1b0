"""Refreshing many products: the periodic full pass marks every product, and
the short refresh ticks work through them, usage first, a slice at a time,
so a pass never runs into the task's time limit and always reaches the last
product; a product whose computation fails holds up nobody."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation.ingest import ContactRef, IncomingEvent
from products import services
from products.models import Product
from tests.builder.factories import WorkspaceFactory
from tests.products.factories import ProductFactory

pytestmark = pytest.mark.django_db


def session(email: str) -> IncomingEvent:
    return IncomingEvent(
        type="session", contact=ContactRef(email=email), data={}, occurred_at=timezone.now()
    )


@pytest.fixture
def products():
    workspace = WorkspaceFactory()
    found = [ProductFactory(workspace=workspace, name=f"P{n}") for n in range(6)]
    for product in found:
        services.record_usage(product, [session(f"{product.name}@x.io")])
        services.refresh_product(product.pk)
    return found


def recomputed_since(moment) -> set[str]:
    return set(Product.objects.filter(metrics_at__gt=moment).values_list("name", flat=True))


def test_a_full_pass_goes_on_across_ticks_until_every_product_is_recomputed(products):
    marked_at = timezone.now()
    assert services.refresh_all_products() == 6  # one UPDATE: nothing computed yet
    assert recomputed_since(marked_at) == set()
    # A tick whose time is up after one product (as when its time limit is near)
    # leaves the rest marked; the next ticks go on where it stopped.
    for done in range(1, 7):
        assert services.refresh_due_products(budget_seconds=0) == 1
        assert len(recomputed_since(marked_at)) == done
    assert services.refresh_due_products(budget_seconds=0) == 0
    assert recomputed_since(marked_at) == {p.name for p in products}
    assert not Product.objects.filter(stale_at__isnull=False).exists()


def test_new_usage_goes_before_the_full_pass(products):
    services.refresh_all_products()
    last = products[-1]
    services.record_usage(last, [session("new@x.io")])
    before = timezone.now()
    assert services.refresh_due_products(budget_seconds=0) == 1
    assert recomputed_since(before) == {last.name}
    last.refresh_from_db()
    assert last.metrics["active_users"] == 2


def test_a_product_that_fails_to_compute_holds_up_no_other(products):
    broken = products[0]
    # A configuration no computation can use (what the admin could save unchecked).
    Product.objects.filter(pk=broken.pk).update(configuration={"window_days": "a month"})
    marked_at = timezone.now()
    services.refresh_all_products()
    while services.refresh_due_products():
        pass
    assert recomputed_since(marked_at) == {p.name for p in products[1:]}
    # Still marked, at the back of the line: tried again on later ticks.
    broken.refresh_from_db()
    assert broken.stale_at is not None and broken.stale_at > marked_at
    assert services.refresh_due_products() == 0


def test_rollup_days_older_than_any_window_are_dropped_by_the_full_pass(products):
    from products.models import UsageDay

    assert UsageDay.objects.count() == 6
    services.refresh_all_products(now=timezone.now() + timedelta(days=367))
    assert UsageDay.objects.count() == 0
