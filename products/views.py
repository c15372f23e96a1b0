"""The products pages of the app: the list and one product (React, src/products/)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from builder.views import chosen_membership, memberships_of, open_in_its_workspace, shell_config

from .models import Product


@login_required
def products_page(request: HttpRequest, product_id: int | None = None) -> HttpResponse:
    memberships = memberships_of(request.user)
    if product_id is not None:
        workspace_id = (
            Product.objects.filter(pk=product_id).values_list("workspace_id", flat=True).first()
        )
        membership = open_in_its_workspace(request, memberships, workspace_id, "product")
    else:
        membership = chosen_membership(request, memberships)
        if membership is None:
            return redirect("workspaces")
    workspace = membership.workspace
    config = {
        **shell_config(request, membership, memberships),
        "workflowId": None,
        "productId": product_id,
    }
    return render(request, "products.html", {"config": config, "workspace": workspace})
