"""The app's pages: log in, pick a workspace, and the canvas shell the React app runs in.

These pages are for workspace members, staff or not: what a person may do is
decided by their role in the workspace (builder/api/permissions.py), never by
`is_staff`. The chosen workspace is kept in the session; the app sends it to
the API as the X-Cairn-Workspace header.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods

from .models import Membership, Workflow

SESSION_KEY = "cairn_workspace"

# A cairn of four stones. Served at /favicon.ico so every page (the app, the
# admin, the API docs) has one and no browser logs a 404 for it.
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<ellipse cx="16" cy="26" rx="12" ry="4.5" fill="#2f6f5e"/>'
    '<ellipse cx="16" cy="17.5" rx="8.5" ry="4" fill="#3f8a75"/>'
    '<ellipse cx="16" cy="10" rx="5.5" ry="3.5" fill="#56a58c"/>'
    '<circle cx="16" cy="4.5" r="2.5" fill="#74c0a6"/></svg>'
)


def memberships_of(user) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user)
        .select_related("workspace")
        .order_by("workspace__name", "workspace__slug")
    )


def chosen_membership(request: HttpRequest, memberships: list[Membership]) -> Membership | None:
    """The membership of the workspace in the session; the only one if there is one."""
    slug = request.session.get(SESSION_KEY)
    for membership in memberships:
        if membership.workspace.slug == slug:
            return membership
    if len(memberships) == 1:
        request.session[SESSION_KEY] = memberships[0].workspace.slug
        return memberships[0]
    return None


@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(FAVICON_SVG, content_type="image/svg+xml")


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and Membership.objects.filter(user=request.user).exists():
        return redirect("workflows")
    return render(request, "home.html")


@login_required
@require_http_methods(["GET", "POST"])
def workspaces(request: HttpRequest) -> HttpResponse:
    """Choose the workspace to work in (chosen for you when there is only one)."""
    memberships = memberships_of(request.user)
    if request.method == "POST":
        slug = request.POST.get("workspace", "")
        if not any(m.workspace.slug == slug for m in memberships):
            raise Http404("you are not a member of that workspace")
        request.session[SESSION_KEY] = slug
        return redirect("workflows")
    if len(memberships) == 1:
        request.session[SESSION_KEY] = memberships[0].workspace.slug
        return redirect("workflows")
    current = request.session.get(SESSION_KEY)
    return render(request, "workspaces.html", {"memberships": memberships, "current": current})


def page_membership(request: HttpRequest, memberships, model=None, object_id=None):
    """The membership a page of the app opens in. A link to one workflow or product
    opens it in its own workspace, if the person is a member (404 otherwise);
    any other page in the chosen workspace (None: none chosen yet)."""
    if object_id is None:
        return chosen_membership(request, memberships)
    workspace_id = model.objects.filter(pk=object_id).values_list("workspace_id", flat=True).first()
    membership = next((m for m in memberships if m.workspace_id == workspace_id), None)
    if membership is None:
        raise Http404(f"no such {model._meta.verbose_name} in your workspaces")
    request.session[SESSION_KEY] = membership.workspace.slug
    return membership


def shell_config(request: HttpRequest, membership, memberships) -> dict:
    """What every page of the React app reads: who, which workspace, where the links go."""
    workspace = membership.workspace
    return {
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
            "failedRuns": reverse("failed-runs"),
        },
    }


@login_required
def app(
    request: HttpRequest, workflow_id: UUID | None = None, page: str | None = None
) -> HttpResponse:
    """The React app: the workflows list, the editor of one workflow, or another
    page of the app (`page`: "failed-runs")."""
    memberships = memberships_of(request.user)
    membership = page_membership(request, memberships, Workflow, workflow_id)
    if membership is None:
        return redirect("workspaces")
    workspace = membership.workspace
    config = {
        **shell_config(request, membership, memberships),
        "workflowId": str(workflow_id) if workflow_id is not None else None,
        "page": page,
    }
    return render(request, "app.html", {"config": config, "workspace": workspace})
