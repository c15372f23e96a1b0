"""Factories for product tests: a product is created through its service (it needs
its subject contact), with features."""

from __future__ import annotations

from itertools import pairwise

import factory

from products import services
from products.models import Product
from tests.builder.factories import WorkspaceFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    manager_email = "pm@example.com"
    executive_email = "ceo@example.com"

    @classmethod
    def _create(cls, model_class, *args, features=(), **kwargs):
        return services.create_product(kwargs.pop("workspace"), features=features, **kwargs)


def graph(*nodes: dict, reenrollment: str = "never") -> dict:
    """A chain of nodes (each {"id", "type", "config"}), edges in order."""
    return {
        "nodes": [
            {
                "id": node["id"],
                "type": node["type"],
                "position": {"x": 0, "y": 120 * index},
                "data": {"config": node.get("config", {})},
            }
            for index, node in enumerate(nodes)
        ],
        "edges": [
            {"id": f"e{index}", "source": a["id"], "target": b["id"]}
            for index, (a, b) in enumerate(pairwise(nodes))
        ],
        "settings": {"reenrollment": reenrollment},
    }


def escalate(
    product: Product,
    *,
    key: str = "escalation",
    level: int = 2,
    max_level: int = 3,
    title: str = "Atlas is down",
    message: str = "Errors everywhere.",
    guidance: str = "",
    acknowledge_within: int = 60,
    run_id: str = "",
):
    """Open an escalation of the product, as action.escalate does."""
    return services.open_escalation(
        product_id=product.pk,
        workspace_id=product.workspace_id,
        idempotency_key=key,
        run_id=run_id,
        title=title,
        message=message,
        guidance=guidance,
        level=level,
        max_level=max_level,
        acknowledge_within=acknowledge_within,
    )
