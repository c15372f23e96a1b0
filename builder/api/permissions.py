"""Which workspace a request acts in, and whether the caller's role there allows it.

The workspace: an API key's own; for a browser session the workspace named by
the `X-Cairn-Workspace` header (its slug), else the user's only membership.
Membership decides everything: a superuser is not a member of every workspace.

Roles are ordered (Role.rank): viewer reads; editor edits workflows, drafts,
contacts and events; publisher publishes, changes status, restores and
operates runs; admin deletes workflows. A view lists the role each of its
actions needs in `required_roles`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from builder.models import ApiKey, Membership, Role, Workspace

WORKSPACE_HEADER = "X-Cairn-Workspace"
# In `required_roles`: any authenticated caller, no workspace involved (the
# node catalogue, the template gallery: the same for everyone).
ANY_CALLER = None


@dataclass(frozen=True)
class Access:
    workspace: Workspace
    role: str


def resolve_access(request) -> Access:
    """The workspace this request acts in and the caller's role there (or an API error)."""
    slug = request.headers.get(WORKSPACE_HEADER, "").strip()
    if isinstance(request.auth, ApiKey):
        key = request.auth
        if slug and slug != key.workspace.slug:
            raise exceptions.PermissionDenied(
                f"this API key belongs to another workspace than '{slug}' ({WORKSPACE_HEADER})"
            )
        return Access(workspace=key.workspace, role=key.role)

    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    if slug:
        membership = memberships.filter(workspace__slug=slug).first()
        if membership is None:
            raise exceptions.PermissionDenied(
                f"you are not a member of workspace '{slug}' ({WORKSPACE_HEADER})"
            )
        return Access(workspace=membership.workspace, role=membership.role)
    found = list(memberships.order_by("workspace__slug")[:2])
    if not found:
        raise exceptions.PermissionDenied("you are not a member of any workspace")
    if len(found) > 1:
        raise exceptions.ValidationError(
            {
                WORKSPACE_HEADER: [
                    "you belong to several workspaces; name one with the "
                    f"{WORKSPACE_HEADER} header (its slug)"
                ]
            }
        )
    return Access(workspace=found[0].workspace, role=found[0].role)


def required_role(view, request) -> str | None:
    """The role the view's `required_roles` asks for this action (or HTTP method).

    Anything a view forgot to list needs admin when it writes: fail closed.
    """
    roles = getattr(view, "required_roles", {})
    action = getattr(view, "action", None)
    if action in roles:
        return roles[action]
    method = request.method.lower()
    if method in roles:
        return roles[method]
    return Role.VIEWER if request.method in SAFE_METHODS else Role.ADMIN


class WorkspaceRolePermission(BasePermission):
    """Authenticated, a member of the request's workspace, with the role the action needs.

    Sets `request.workspace` and `request.role` for the view.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF answers 401
        needed = required_role(view, request)
        if needed is ANY_CALLER:
            return True
        access = resolve_access(request)
        request.workspace = access.workspace
        request.role = access.role
        if Role.rank(access.role) < Role.rank(needed):
            raise exceptions.PermissionDenied(
                f"this needs the {needed} role or higher; your role in workspace "
                f"'{access.workspace.slug}' is {access.role}"
            )
        return True
