"""Admin for products: adding one creates its subject contact; pages render;
recompute and acknowledge actions work."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from products import services
from products.models import BandCrossing, Escalation, MetricPoint, Product
from tests.builder.factories import WorkspaceFactory
from tests.products.factories import ProductFactory, escalate

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
    escalation = escalate(product, key="admin", title="Look", message="")
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


def change_form(product, configuration: str = "{}", **feature) -> dict:
    """The change form as the admin posts it (the product has one feature, no crossings)."""
    existing = product.features.get()
    return {
        "workspace": product.workspace_id,
        "name": product.name,
        "description": "",
        "manager_email": product.manager_email,
        "executive_email": product.executive_email,
        "configuration": configuration,
        # The hidden input the page carries (a callable default): what was there.
        "initial-configuration": json.dumps(product.configuration),
        "features-TOTAL_FORMS": "1",
        "features-INITIAL_FORMS": "1",
        "features-0-id": existing.pk,
        "features-0-product": product.pk,
        "features-0-key": existing.key,
        "features-0-name": existing.name,
        "features-0-target_tag": existing.target_tag,
        "features-0-target_size": str(existing.target_size or ""),
        **{f"features-0-{name}": value for name, value in feature.items()},
        "crossings-TOTAL_FORMS": "0",
        "crossings-INITIAL_FORMS": "0",
    }


@pytest.fixture
def computed_product():
    product = ProductFactory(features=[{"key": "reports", "target_size": 10}])
    services.refresh_product(product.pk)
    product.refresh_from_db()
    assert product.dirty_at is None
    return product


@pytest.mark.parametrize(
    ("configuration", "named"),
    [
        ('{"adoption_bands": [60, 20, 80]}', "adoption_bands: increasing numbers"),
        ('{"health_bands": [40, 60]}', "health_bands: three numbers"),
        ('{"hysteresis": 50}', "hysteresis:"),
        ('{"colour": "blue"}', "colour: unknown setting"),
        ('{"weights": {"speed": 1}}', "weights: unknown weight 'speed'"),
        (
            '{"escalation": {"slack": {"connection": 999, "channel": "#x"}}}',
            "escalation.slack.connection: no slack connection",
        ),
    ],
)
def test_the_admin_refuses_a_configuration_the_api_refuses(
    admin_client, computed_product, configuration, named
):
    url = reverse("admin:products_product_change", args=[computed_product.pk])
    response = admin_client.post(url, change_form(computed_product, configuration))
    assert response.status_code == 200  # the form again, with the errors
    errors = response.context["adminform"].form.errors["configuration"]
    assert any(named in message for message in errors), errors
    computed_product.refresh_from_db()
    assert computed_product.configuration == {} and computed_product.dirty_at is None


def test_a_configuration_changed_in_the_admin_is_stored_and_recomputed(
    admin_client, computed_product
):
    url = reverse("admin:products_product_change", args=[computed_product.pk])
    response = admin_client.post(
        url, change_form(computed_product, '{"hysteresis": 5, "adoption_bands": [10, 50, 90]}')
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    computed_product.refresh_from_db()
    assert computed_product.configuration["adoption_bands"] == [10, 50, 90]
    assert computed_product.config["hysteresis"] == 5
    assert computed_product.dirty_at is not None


def test_a_feature_changed_inline_marks_the_product_for_recomputation(
    admin_client, computed_product
):
    url = reverse("admin:products_product_change", args=[computed_product.pk])
    response = admin_client.post(url, change_form(computed_product, target_size="4"))
    assert response.status_code == 302, response.content.decode()[:3000]
    computed_product.refresh_from_db()
    assert computed_product.features.get().target_size == 4
    assert computed_product.dirty_at is not None
    services.refresh_due_products()
    computed_product.refresh_from_db()
    assert computed_product.metrics["features"]["reports"]["target"] == 4


def test_saving_an_unchanged_product_in_the_admin_recomputes_nothing(
    admin_client, computed_product
):
    url = reverse("admin:products_product_change", args=[computed_product.pk])
    assert admin_client.post(url, change_form(computed_product)).status_code == 302
    computed_product.refresh_from_db()
    assert computed_product.dirty_at is None
