"""The products pages of the app: the list and one product (React, src/products/)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse

from builder.views import SESSION_KEY, chosen_membership, memberships_of

from .models import Product


@login_required
def products_page(request: HttpRequest, product_id: int | None = None) -> HttpResponse:
    memberships = memberships_of(request.user)
    if product_id is not None:
        # A link to a product opens it in its own workspace, if the person is a member.
        workspace_id = (
            Product.objects.filter(pk=product_id).values_list("workspace_id", flat=True).first()
        )
        membership = next((m for m in memberships if m.workspace_id == workspace_id), None)
        if membership is None:
            raise Http404("no such product in your workspaces")
        request.session[SESSION_KEY] = membership.workspace.slug
    else:
        membership = chosen_membership(request, memberships)
        if membership is None:
            return redirect("workspaces")
    workspace = membership.workspace
    config = {
        "user": {"username": request.user.get_username()},
        "workspace": {"slug": workspace.slug, "name": workspace.name},
        "role": membership.role,
        "workspaces": [{"slug": m.workspace.slug, "name": m.workspace.name} for m in memberships],
        "csrfToken": get_token(request),
        "urls": {
            "logout": reverse("logout"),
            "workspaces": reverse("workspaces"),
            "admin": reverse("admin:index") if request.user.is_staff else None,
            "apiDocs": reverse("api-docs"),
        },
        "workflowId": None,
        "productId": product_id,
    }
    return render(request, "products.html", {"config": config, "workspace": workspace})
