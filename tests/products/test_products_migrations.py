"""Upgrading: the usage rollup is filled from the usage events stored before it
existed, and escalations opened before keep closing their own inbox items."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("products", "0002_usage_index")]
AFTER = [("products", "0005_escalation_inbox_items")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def _back_to_the_latest_schema():
    """Going back to an old products migration unapplies whatever depends on
    it: the tests after this one get every migration again."""
    yield
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_the_rollup_and_the_escalation_links_are_filled_on_upgrade():
    apps = migrate(BEFORE)
    Workspace = apps.get_model("builder", "Workspace")
    Contact = apps.get_model("automation", "Contact")
    Event = apps.get_model("automation", "Event")
    InboxItem = apps.get_model("automation", "InboxItem")
    Product = apps.get_model("products", "Product")
    Feature = apps.get_model("products", "Feature")
    Escalation = apps.get_model("products", "Escalation")

    ws = Workspace.objects.create(name="W", slug="w")
    subject = Contact.objects.create(workspace=ws, is_preview=True)
    product = Product.objects.create(workspace=ws, name="Atlas", subject=subject)
    Feature.objects.create(product=product, key="reports")
    ada = Contact.objects.create(workspace=ws, email="ada@x.io")
    day = datetime(2026, 3, 2, 10, tzinfo=UTC)
    for kind, data in [
        ("session", {}),
        ("session", {}),
        ("feature_used", {"feature": "reports"}),
        ("feature_used", {"feature": "gone"}),  # no such feature: usage, no adoption
        ("nps", {"score": 10}),
        ("error", {}),
    ]:
        Event.objects.create(
            workspace=ws,
            contact=ada,
            type=kind,
            data={**data, "product": product.pk},
            occurred_at=day,
        )
    Event.objects.create(workspace=ws, contact=ada, type="session", data={}, occurred_at=day)
    escalation = Escalation.objects.create(
        product=product, idempotency_key="k", title="t", level=2, acknowledge_within=60
    )
    own = InboxItem.objects.create(
        workspace=ws,
        kind="task",
        title="[L2] t",
        body=f"x\n\nAcknowledge: POST /api/v1/escalations/{escalation.pk}/acknowledge",
    )
    InboxItem.objects.create(workspace=ws, kind="task", title="Someone else's")

    apps = migrate(AFTER)
    UsageDay = apps.get_model("products", "UsageDay")
    FeatureUseDay = apps.get_model("products", "FeatureUseDay")
    [row] = UsageDay.objects.all()
    assert (row.contact_id, row.day.isoformat()) == (ada.pk, "2026-03-02")
    counts = (row.events, row.sessions, row.errors, row.nps_responses, row.promoters)
    assert counts == (6, 2, 1, 1, 1)
    assert list(FeatureUseDay.objects.values_list("feature_key", "uses")) == [("reports", 1)]
    linked = apps.get_model("products", "Escalation").objects.get().inbox_items.all()
    assert [item.pk for item in linked] == [own.pk]
