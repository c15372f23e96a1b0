from django.contrib import admin
from django.urls import include, path

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
    path("hooks/", include("integrations.urls")),
    path("metrics", metrics, name="metrics"),
]

admin.site.site_header = "Cairn administration"
admin.site.site_title = "Cairn"
admin.site.index_title = "Workflows, runs and contacts"
