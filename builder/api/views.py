"""What every API view shares, and the catalogue views (node types, templates).

Views are thin: parse with a serializer, call a service, serialise the result.
The workflow, run, contact and event views live in views_*.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import UUIDField
from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_view_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from automation.nodes.registry import all_node_types
from automation.safe_json import SafeJSONParser, check_query_params
from builder.models import Role
from builder.services import create_workflow

from .permissions import ANY_CALLER, WORKSPACE_HEADER, WorkspaceRolePermission
from .serializers import (
    ErrorSerializer,
    NodeTypeListSerializer,
    TemplateListSerializer,
    TemplateUseSerializer,
    WorkflowSerializer,
)

WORKSPACE_PARAMETER = OpenApiParameter(
    name=WORKSPACE_HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "The workspace (its slug) for a browser session that belongs to several. "
        "An API key always acts in its own workspace."
    ),
)


class CairnAutoSchema(AutoSchema):
    """Every operation: the workspace header, its resource as tag, `{id}` typed by the model."""

    def get_override_parameters(self) -> list:
        parameters = [*super().get_override_parameters(), WORKSPACE_PARAMETER]
        model = get_view_model(self.view, emit_warnings=False)
        if "{id}" in self.path and model is not None:
            is_uuid = isinstance(model._meta.pk, UUIDField)
            parameters.append(
                OpenApiParameter(
                    "id",
                    OpenApiTypes.UUID if is_uuid else OpenApiTypes.INT,
                    OpenApiParameter.PATH,
                    description=f"The {model._meta.verbose_name}'s id.",
                )
            )
        return parameters

    def get_tags(self) -> list[str]:
        # /api/v1/<resource>/...
        parts = self.path.strip("/").split("/")
        return [parts[2]] if len(parts) > 2 else super().get_tags()

    def get_operation_id(self) -> str:
        return super().get_operation_id().removeprefix("api_v1_")


class ApiViewMixin:
    """Authentication from settings; workspace + role from WorkspaceRolePermission; JSON only.

    Subclasses list the role each action needs in `required_roles`.
    """

    permission_classes = [WorkspaceRolePermission]
    parser_classes = [SafeJSONParser]
    schema = CairnAutoSchema()
    required_roles: dict[str, str | None] = {}

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        check_query_params(request.query_params)

    def validated(self, serializer_class, data: Any) -> dict:
        serializer = serializer_class(data=data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def get_serializer_context(self) -> dict:
        return {"request": self.request, "view": self}


def acting_user(request):
    """The Django user behind a request, or None for an API key (it is not a person)."""
    user = request.user
    return user if isinstance(user, get_user_model()) else None


# ---------------------------------------------------------------- node catalogue
class NodeTypesView(ApiViewMixin, APIView):
    """The node catalogue the canvas builds its palette and forms from."""

    required_roles = {"get": ANY_CALLER}

    @extend_schema(responses=NodeTypeListSerializer, operation_id="node_types_list")
    def get(self, request):
        results = [node_type.describe() for node_type in all_node_types()]
        return Response({"count": len(results), "results": results})


# ---------------------------------------------------------------- template gallery
def _gallery():
    from builder import gallery  # written alongside the API; imported when first used

    return gallery


class TemplateViewSet(ApiViewMixin, viewsets.ViewSet):
    """The template gallery: ready-made workflows to start from."""

    required_roles = {"gallery": ANY_CALLER, "use": Role.EDITOR}

    # Not named `list`: drf-spectacular documents a `list` action as an array,
    # and the gallery answers {"count", "results"} (a generated client raised on it).
    @extend_schema(responses=TemplateListSerializer, operation_id="templates_list")
    def gallery(self, request):
        """Every template, with its graph."""
        results = _gallery().list_templates()
        return Response({"count": len(results), "results": results})

    @extend_schema(
        request=TemplateUseSerializer,
        responses={201: WorkflowSerializer, 400: ErrorSerializer},
        parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH)],
    )
    def use(self, request, slug: str):
        """Create a draft workflow from a template (named after it unless `name` is given)."""
        template = _gallery().get_template(slug)
        if template is None:
            raise Http404(f"no template '{slug}'")
        data = self.validated(TemplateUseSerializer, request.data)
        workflow = create_workflow(
            request.workspace,
            name=data.get("name") or template["name"],
            graph=template["graph"],
            user=acting_user(request),
            description=template.get("description", ""),
            template_slug=slug,
        )
        body = WorkflowSerializer(workflow, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)
