"""Dead letters: runs that failed after their retries, listed together, retried or
discarded in bulk. The verbs live in automation/runs.py; this parses and answers."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.response import Response

from automation.models import Run
from automation.runs import (
    DEAD_LETTER_BATCH,
    DeadLetterError,
    dead_letters,
    discard_dead_letters,
    retry_dead_letters,
)
from builder.models import Role

from .errors import Conflict
from .serializers import ConflictSerializer, ErrorSerializer, RunSerializer, same_status_as
from .views import ApiViewMixin, acting_user
from .views_workflows import DATE_OR_TIME, runs_of_contact_and_dates

FIELD = "runs"


class DeadLetterSerializer(RunSerializer):
    status = same_status_as("Run")
    workflow_name = serializers.CharField(source="workflow.name")
    failed_node_type = serializers.CharField(
        source="current_step.node_type", allow_null=True, default=None
    )
    attempts = serializers.IntegerField(
        source="current_step.attempt",
        allow_null=True,
        default=None,
        help_text="Attempts made on the failed step.",
    )

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "workflow_name", "failed_node_type", "attempts"]
        read_only_fields = fields


class DeadLetterSelectionSerializer(serializers.Serializer):
    runs = serializers.ListField(
        child=serializers.UUIDField(),
        allow_empty=False,
        min_length=1,
        max_length=DEAD_LETTER_BATCH,
        help_text=f"Ids of failed runs of this workspace (at most {DEAD_LETTER_BATCH}).",
    )


class DeadLetterResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    runs = serializers.ListField(child=serializers.UUIDField())


FILTERS = [
    OpenApiParameter("workflow", OpenApiTypes.UUID, description="Only runs of this workflow."),
    OpenApiParameter("node", str, description="Only runs that failed at this node id."),
    OpenApiParameter("q", str, description="Only runs whose error contains this (any case)."),
    OpenApiParameter(
        "contact", str, description="Runs of contacts whose email contains this, or this id."
    ),
    OpenApiParameter("since", DATE_OR_TIME, description="Failed at or after (ISO date or time)."),
    OpenApiParameter("until", DATE_OR_TIME, description="Failed before (ISO date or time)."),
]


class DeadLetterViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Failed runs of the current workspace; viewers list, editors retry and discard."""

    queryset = Run.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = DeadLetterSerializer
    required_roles = {"list": Role.VIEWER, "retry": Role.EDITOR, "discard": Role.EDITOR}

    def get_queryset(self):
        return dead_letters(self.request.workspace.pk).select_related(
            "workflow", "version", "contact", "current_step"
        )

    @extend_schema(parameters=FILTERS, responses=DeadLetterSerializer(many=True))
    def list(self, request):
        """Runs that failed after their retries, the latest failure first."""
        runs = self.get_queryset()
        params = request.query_params
        if workflow := params.get("workflow", "").strip():
            try:
                runs = runs.filter(workflow_id=serializers.UUIDField().to_internal_value(workflow))
            except exceptions.ValidationError:
                raise exceptions.ValidationError({"workflow": ["must be a workflow id"]}) from None
        if node := params.get("node", "").strip():
            runs = runs.filter(current_node=node)
        if text := params.get("q", "").strip():
            runs = runs.filter(error__icontains=text)
        runs = runs_of_contact_and_dates(runs, request, "finished_at")
        page = self.paginate_queryset(runs)
        data = DeadLetterSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    @extend_schema(
        request=DeadLetterSelectionSerializer,
        responses={200: DeadLetterResultSerializer, 400: ErrorSerializer, 409: ConflictSerializer},
    )
    def retry(self, request):
        """Retry these failed runs from the step that failed, all or none."""
        ids = self.validated(DeadLetterSelectionSerializer, request.data)[FIELD]
        return self.answer(lambda: retry_dead_letters(request.workspace.pk, ids))

    @extend_schema(
        request=DeadLetterSelectionSerializer,
        responses={200: DeadLetterResultSerializer, 400: ErrorSerializer, 409: ConflictSerializer},
    )
    def discard(self, request):
        """Give up on these failed runs (they become cancelled, marked discarded), all or none."""
        ids = self.validated(DeadLetterSelectionSerializer, request.data)[FIELD]
        user = acting_user(request)
        by = (user.email or user.get_username()) if user else f"API key {request.auth.name}"
        return self.answer(lambda: discard_dead_letters(request.workspace.pk, ids, by=by))

    def answer(self, operation) -> Response:
        try:
            result = operation()
        except DeadLetterError as error:
            # A run that is not (or no longer) one of the workspace's dead letters.
            raise Conflict(f"{FIELD}[{error.index}]", str(error)) from None
        return Response({"count": len(result.runs), "runs": result.runs})
