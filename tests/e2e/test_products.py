"""The product page in a real browser: metrics now and over time (a recharts
chart), band history with the workflows each crossing started, and
acknowledging an escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from automation.ingest import ContactRef, IncomingEvent
from automation.models import Run
from builder.models import Membership
from products import services
from tests.builder.factories import published_workflow
from tests.conftest import wait_until
from tests.e2e.ui import log_in
from tests.products.factories import ProductFactory, graph

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_the_product_page_shows_metrics_history_and_crossings(page, live_server_url, editor_user):
    user = editor_user()
    workspace = Membership.objects.get(user=user).workspace
    workflow = published_workflow(
        workspace,
        graph({"id": "health", "type": "trigger.product_health", "config": {"band": "any"}}),
        name="Health watch",
    )
    product = ProductFactory(
        workspace=workspace,
        name="Atlas",
        features=[{"key": "reports", "name": "Reports", "target_size": 4}],
    )
    usage = [
        IncomingEvent(
            type=kind,
            contact=ContactRef(email=f"u{n}@example.com"),
            data=data,
            occurred_at=timezone.now() - timedelta(hours=1),
        )
        for n in range(4)
        for kind, data in (("session", {}), ("feature_used", {"feature": "reports"}))
        if kind == "session" or n < 2
    ]
    services.record_usage(product, usage)
    # A refresh skips a product another process is refreshing (beat's dirty tick,
    # when the session's worker runs): try until each of these two has run.
    yesterday = timezone.now() - timedelta(days=1)
    wait_until(lambda: services.refresh_product(product.pk, now=yesterday), what="yesterday's")
    wait_until(lambda: services.refresh_product(product.pk), what="today's refresh")
    run = wait_until(lambda: Run.objects.filter(workflow=workflow).first(), what="a run started")
    escalation = services.open_escalation(
        product_id=product.pk,
        workspace_id=workspace.pk,
        idempotency_key="e2e",
        run_id="",
        title="Atlas needs a look",
        message="",
        guidance="",
        level=2,
        max_level=3,
        acknowledge_within=3600,
    )

    log_in(page, live_server_url, user.username, "pw-e2e-123")
    page.get_by_role("link", name="Products").click()
    page.get_by_role("link", name="Atlas").click()
    expect(page.get_by_role("heading", name="Atlas")).to_be_visible()
    product.refresh_from_db()
    health = product.metrics["health_score"]
    expect(page.get_by_label("Health score", exact=True)).to_contain_text(f"{health:g}")
    expect(page.get_by_label("Active users", exact=True)).to_contain_text("4")
    features = page.get_by_role("region", name="Features")
    reports = features.get_by_role("row", name="Reports")
    expect(reports).to_contain_text("50 %")
    expect(reports).to_contain_text("+50")  # yesterday nobody had used it yet
    expect(reports).to_contain_text("2 / 4")
    # Two daily points: the chart draws the health line and the feature's line.
    chart = page.get_by_test_id("metrics-chart")
    expect(chart.locator("path.recharts-line-curve")).to_have_count(2)
    expect(chart).to_contain_text("reports adoption %")
    # The band history, with the workflow the crossing started (a link to it).
    history = page.get_by_role("region", name="Band history")
    health_row = history.get_by_role("row").filter(has_text="Health")
    expect(health_row).to_contain_text(run.trigger_event.data["band"])
    link = health_row.get_by_role("link", name="Health watch")
    expect(link).to_have_attribute("href", f"/workflows/{workflow.pk}/")
    # Acknowledge the open escalation.
    escalations = page.get_by_role("region", name="Open escalations")
    escalations.get_by_role("button", name="Acknowledge").click()
    expect(escalations).to_have_count(0)
    escalation.refresh_from_db()
    assert escalation.status == "acknowledged"
    assert escalation.acknowledged_by == user.username
    assert page.console_problems == []
