"""/api/v1/ endpoints of products/ (included beside builder/api/urls.py)."""

from builder.api.urls import endpoint

from .api import EscalationAcknowledgeView, ProductViewSet, TriggerFireView

products = ProductViewSet.as_view
PRODUCT = r"products/(?P<pk>[0-9]+)"

urlpatterns = [
    endpoint("products", products({"get": "list", "post": "create"}), "product-list"),
    endpoint(
        PRODUCT,
        products({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        "product-detail",
    ),
    endpoint(f"{PRODUCT}/features", products({"post": "add_feature"}), "product-features"),
    endpoint(
        rf"{PRODUCT}/features/(?P<key>[-\w]+)",
        products({"patch": "update_feature"}),
        "product-feature",
    ),
    endpoint(f"{PRODUCT}/events", products({"post": "events"}), "product-events", slash=False),
    endpoint(f"{PRODUCT}/metrics", products({"get": "metrics"}), "product-metrics", slash=False),
    endpoint(
        f"{PRODUCT}/configuration",
        products({"get": "configuration", "put": "set_configuration"}),
        "product-configuration",
        slash=False,
    ),
    endpoint(
        f"{PRODUCT}/analytics", products({"get": "analytics"}), "product-analytics", slash=False
    ),
    endpoint(f"{PRODUCT}/crossings", products({"get": "crossings"}), "product-crossings"),
    endpoint(f"{PRODUCT}/escalations", products({"get": "escalations"}), "product-escalations"),
    endpoint(
        r"escalations/(?P<pk>[0-9]+)/acknowledge",
        EscalationAcknowledgeView.as_view(),
        "escalation-acknowledge",
        slash=False,
    ),
    endpoint(
        r"automation/triggers/(?P<kind>[-a-z]+)",
        TriggerFireView.as_view(),
        "automation-trigger",
        slash=False,
    ),
]
