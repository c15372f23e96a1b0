"""Admin for products: adding one creates its subject contact; pages render;
recompute and acknowledge actions work."""

from __future__ import annotations

import pytest
from django.urls import reverse

from products import services
from products.models import BandCrossing, Escalation, MetricPoint, Product
from tests.builder.factories import WorkspaceFactory
from tests.products.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_adding_a_product_in_the_admin_gives_it_a_subject_and_features(admin_client):
    workspace = WorkspaceFactory()
    response = admin_client.post(
        reverse("admin:products_product_add"),
        {
            "workspace": workspace.pk,
            "name": "Atlas",
            "description": "",
            "manager_email": "pm@example.com",
            "executive_email": "",
            "configuration": "{}",
            "features-TOTAL_FORMS": "1",
            "features-INITIAL_FORMS": "0",
            "features-0-key": "reports",
            "features-0-name": "Reports",
            "features-0-target_tag": "",
            "features-0-target_size": "20",
            "crossings-TOTAL_FORMS": "0",
            "crossings-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    product = Product.objects.get()
    assert product.subject.is_preview and product.subject.workspace == workspace
    assert list(product.features.values_list("key", "target_size")) == [("reports", 20)]


def test_pages_and_actions(admin_client):
    product = ProductFactory(features=[{"key": "reports", "target_size": 10}])
    services.refresh_product(product.pk)
    services.fire_from_api(
        product, "product_health", band="critical", feature_key="", value=30.0, payload={}
    )
    escalation = services.open_escalation(
        product_id=product.pk,
        workspace_id=product.workspace_id,
        idempotency_key="admin",
        run_id="",
        title="Look",
        message="",
        guidance="",
        level=2,
        max_level=3,
        acknowledge_within=60,
    )
    for model, obj in (
        (Product, product),
        (MetricPoint, MetricPoint.objects.get()),
        (BandCrossing, BandCrossing.objects.first()),
        (Escalation, escalation),
    ):
        name = model._meta.model_name
        assert admin_client.get(reverse(f"admin:products_{name}_changelist")).status_code == 200
        change = reverse(f"admin:products_{name}_change", args=[obj.pk])
        assert admin_client.get(change).status_code == 200
    response = admin_client.post(
        reverse("admin:products_escalation_changelist"),
        {"action": "acknowledge", "_selected_action": [escalation.pk]},
    )
    assert response.status_code == 302
    escalation.refresh_from_db()
    assert escalation.status == "acknowledged"
    services.mark_dirty([product.pk])
    admin_client.post(
        reverse("admin:products_product_changelist"),
        {"action": "recompute", "_selected_action": [product.pk]},
    )
    product.refresh_from_db()
    assert product.dirty_at is None
