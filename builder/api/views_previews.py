"""Preview: start one on a workflow's current draft; step through it; choose at a wait."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from automation import preview
from automation.models import Run
from builder import services
from builder.models import Role, Workflow

from .errors import refused_by_state
from .serializers import ConflictSerializer, ErrorSerializer, RunDetailSerializer
from .serializers_previews import PreviewChooseSerializer, PreviewRequestSerializer
from .views import ApiViewMixin

REFUSED = {400: ErrorSerializer, 409: ConflictSerializer}


def preview_body(run_id, context) -> dict:
    run = Run.objects.select_related("version").prefetch_related("steps").get(pk=run_id)
    body = RunDetailSerializer(run, context=context).data
    body["preview"] = {
        key: run.preview.get(key) for key in ("mode", "choices", "paused_before", "event")
    }
    body["ws"] = f"/ws/previews/{run.pk}/"
    return body


class PreviewViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Preview runs of the current workspace's drafts."""

    queryset = Run.objects.none()
    serializer_class = RunDetailSerializer
    required_roles = {"start": Role.EDITOR, "go_on": Role.EDITOR, "choose": Role.EDITOR}

    def preview_run(self, pk) -> Run:
        run = Run.objects.filter(pk=pk, workspace=self.request.workspace, is_preview=True).first()
        if run is None:
            raise Http404
        return run

    @extend_schema(
        request=PreviewRequestSerializer, responses={201: RunDetailSerializer, **REFUSED}
    )
    def start(self, request, pk):
        """Run the CURRENT draft for a sample contact and event, with nothing real done.

        Stream it at `/ws/previews/{run id}/`; it is listed under
        `GET /api/v1/workflows/{id}/runs/?preview=true`.
        """
        workflow = Workflow.objects.filter(pk=pk, workspace=request.workspace).first()
        if workflow is None:
            raise Http404
        data = self.validated(PreviewRequestSerializer, request.data)
        with refused_by_state():
            run = services.start_preview(workflow, request=data)
        return Response(
            preview_body(run.pk, self.get_serializer_context()), status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={200: RunDetailSerializer, **REFUSED})
    def go_on(self, request, pk):
        """Step-through: run the node the preview is paused before (409 if it is not)."""
        run = preview.go_on(self.preview_run(pk).pk)
        return Response(preview_body(run.pk, self.get_serializer_context()))

    @extend_schema(request=PreviewChooseSerializer, responses={200: RunDetailSerializer, **REFUSED})
    def choose(self, request, pk):
        """At a wait for an event: it was received (with `data`) or it timed out."""
        data = self.validated(PreviewChooseSerializer, request.data)
        run = preview.choose(self.preview_run(pk).pk, data["handle"], data["data"])
        return Response(preview_body(run.pk, self.get_serializer_context()))
