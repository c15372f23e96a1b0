"""The products pages of the app: the list and one product (React, src/products/)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from builder.views import memberships_of, page_membership, shell_config

from .models import Product


@login_required
def products_page(request: HttpRequest, product_id: int | None = None) -> HttpResponse:
    memberships = memberships_of(request.user)
    membership = page_membership(request, memberships, Product, product_id)
    if membership is None:
        return redirect("workspaces")
    workspace = membership.workspace
    config = {
        **shell_config(request, membership, memberships),
        "workflowId": None,
        "productId": product_id,
    }
    return render(request, "products.html", {"config": config, "workspace": workspace})
