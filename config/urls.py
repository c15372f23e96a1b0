from django.contrib import admin
from django.urls import include, path, re_path

from builder.api.errors import api_not_found
from config.api_docs import DocsView, SchemaView
from ops.views import metrics
from products.views import products_page

urlpatterns = [
    path("", include("builder.urls")),
    path("products/", products_page, name="products"),
    path("products/<int:product_id>/", products_page, name="product-page"),
    path("admin/", admin.site.urls),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("builder.api.urls")),
    path("api/v1/", include("products.urls")),
    # Any other /api/ path (or an id of the wrong shape): a JSON 404, not the HTML page.
    re_path(r"^api/", api_not_found),
    path("hooks/", include("integrations.urls")),
    re_path(r"^hooks/", api_not_found),
    path("metrics", metrics, name="metrics"),
]

admin.site.site_header = "Cairn administration"
admin.site.site_title = "Cairn"
admin.site.index_title = "Workflows, runs and contacts"
