"""Workflows: CRUD, the draft, publish, status, versions, results and runs."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from automation.models import Run, RunStatus
from automation.results import workflow_results
from builder import services
from builder.models import Role, Workflow, WorkflowStatus
from builder.queries import with_counts

from .errors import etag, refused_by_state
from .serializers import (
    ConflictSerializer,
    DraftConflictSerializer,
    DraftRequestSerializer,
    DraftResponseSerializer,
    ErrorSerializer,
    PublishRequestSerializer,
    PublishResponseSerializer,
    ResultsSerializer,
    RunSerializer,
    VersionSerializer,
    WorkflowCreateSerializer,
    WorkflowSerializer,
    WorkflowStatusChangeSerializer,
    WorkflowUpdateSerializer,
)
from .views import ApiViewMixin, acting_user

STATUS_FILTER = OpenApiParameter(
    "status", str, enum=WorkflowStatus.values, description="Only workflows in this status."
)
RUN_CONTACT_FILTER = OpenApiParameter(
    "contact", str, description="Runs of contacts whose email contains this, or this id."
)
# What date_param() accepts: a date (its midnight UTC) or a date-time.
DATE_OR_TIME = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
}
RUN_SINCE_FILTER = OpenApiParameter(
    "since", DATE_OR_TIME, description="Started at or after (ISO date or date-time)."
)
RUN_UNTIL_FILTER = OpenApiParameter(
    "until", DATE_OR_TIME, description="Started before (ISO date or date-time)."
)
RUN_STATUS_FILTER = OpenApiParameter(
    "status", str, enum=RunStatus.values, description="Only runs in this status."
)
PREVIEW_FILTER = OpenApiParameter(
    "preview", bool, description="true: preview runs instead of real ones (default false)."
)
SEARCH = OpenApiParameter(
    "q", str, description="Only workflows whose name contains this (any case)."
)
VERSION_NUMBER = OpenApiParameter("number", int, OpenApiParameter.PATH)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description=(
        'The draft revision the edit started from, as its ETag ("7"). When the stored '
        "draft has moved on, nothing is saved and the answer is a 412 with the stored draft. "
        "Without it the draft is saved whatever its revision."
    ),
)
ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description='The draft revision, quoted ("7"): send it back as If-Match.',
)
BAD_REQUEST = {400: ErrorSerializer}
# The stored workflow refuses the change (issues in the draft, its status): fix it, retry.
CONFLICT = {409: ConflictSerializer}


def if_match_revisions(request) -> list[int] | None:
    """The revisions an If-Match header accepts; None when it accepts any (absent or `*`).

    A tag that is not a revision number can never match (an empty list).
    """
    header = request.headers.get("If-Match")
    if header is None or header.strip() in ("", "*"):
        return None
    revisions = []
    for tag in header.split(","):
        value = tag.strip().removeprefix("W/").strip('"')
        if value.isdigit():
            revisions.append(int(value))
    return revisions


def date_param(request, name: str):
    """An ISO date or date-time query parameter (a date means its midnight UTC), or None."""
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    moment = parse_datetime(value) or (
        datetime.combine(parse_date(value), time.min, tzinfo=UTC) if parse_date(value) else None
    )
    if moment is None:
        raise exceptions.ValidationError({name: ["must be a date (2026-11-25) or ISO date-time"]})
    try:
        # In UTC: PostgreSQL refuses offsets past ±15:59 (a 500 before).
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise exceptions.ValidationError({name: ["is out of range"]}) from None


def runs_of_contact_and_dates(runs: QuerySet, request, date_field: str) -> QuerySet:
    """Runs narrowed by `?contact=` (part of an email, an external id, or a contact
    id) and by `?since=` / `?until=` on `date_field`."""
    if contact := request.query_params.get("contact", "").strip():
        matches = Q(contact__email__icontains=contact) | Q(contact__external_id=contact)
        if contact.isdigit():
            matches |= Q(contact_id=int(contact))
        runs = runs.filter(matches)
    if since := date_param(request, "since"):
        runs = runs.filter(**{f"{date_field}__gte": since})
    if until := date_param(request, "until"):
        runs = runs.filter(**{f"{date_field}__lt": until})
    return runs


def choice_param(request, name: str, choices: list[str]) -> str | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if value not in choices:
        raise exceptions.ValidationError({name: [f"must be one of {', '.join(choices)}"]})
    return value


class WorkflowViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Workflows of the current workspace."""

    queryset = Workflow.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = WorkflowSerializer
    required_roles = {
        "list": Role.VIEWER,
        "retrieve": Role.VIEWER,
        "active": Role.VIEWER,
        "versions": Role.VIEWER,
        "results": Role.VIEWER,
        "runs": Role.VIEWER,
        "create": Role.EDITOR,
        "partial_update": Role.EDITOR,
        "draft": Role.EDITOR,
        "publish": Role.PUBLISHER,
        "set_status": Role.PUBLISHER,
        "restore": Role.PUBLISHER,
        "destroy": Role.ADMIN,
    }

    def get_queryset(self):
        return with_counts(Workflow.objects.filter(workspace=self.request.workspace)).order_by(
            "-updated_at", "pk"
        )

    def respond(self, workflow: Workflow, code: int = status.HTTP_200_OK) -> Response:
        """The workflow as it is stored now, with its counts, and its draft revision as ETag."""
        fresh = self.get_queryset().get(pk=workflow.pk)
        response = Response(self.get_serializer(fresh).data, status=code)
        response["ETag"] = etag(fresh.draft_revision)
        return response

    def paginated(self, queryset, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        data = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    # ------------------------------------------------------------ CRUD
    @extend_schema(parameters=[STATUS_FILTER, SEARCH], responses=WorkflowSerializer(many=True))
    def list(self, request):
        """The workspace's workflows, most recently changed first."""
        workflows = self.get_queryset()
        wanted = choice_param(request, "status", WorkflowStatus.values)
        if wanted:
            workflows = workflows.filter(status=wanted)
        if search := request.query_params.get("q", "").strip():
            workflows = workflows.filter(name__icontains=search)
        return self.paginated(workflows, WorkflowSerializer)

    @extend_schema(
        request=WorkflowCreateSerializer, responses={201: WorkflowSerializer, **BAD_REQUEST}
    )
    def create(self, request):
        """Create a workflow: a draft, with an empty graph unless `draft` is given."""
        data = self.validated(WorkflowCreateSerializer, request.data)
        workflow = services.create_workflow(
            request.workspace,
            name=data["name"],
            description=data["description"],
            priority=data["priority"],
            graph=data.get("draft"),
            user=acting_user(request),
        )
        return self.respond(workflow, status.HTTP_201_CREATED)

    @extend_schema(parameters=[ETAG], responses=WorkflowSerializer)
    def retrieve(self, request, pk):
        """One workflow, with its draft, the draft's revision (ETag) and validation issues."""
        return self.respond(self.get_object())

    @extend_schema(
        request=WorkflowUpdateSerializer, responses={200: WorkflowSerializer, **BAD_REQUEST}
    )
    def partial_update(self, request, pk):
        """Rename, re-describe or re-prioritise a workflow (the graph: PUT …/draft)."""
        workflow = self.get_object()
        data = self.validated(WorkflowUpdateSerializer, request.data)
        return self.respond(services.update_workflow(workflow, **data))

    @extend_schema(responses={204: None, **BAD_REQUEST, **CONFLICT})
    def destroy(self, request, pk):
        """Delete a draft or archived workflow (archive an active or paused one first)."""
        with refused_by_state():
            services.delete_workflow(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=WorkflowSerializer(many=True))
    def active(self, request):
        """The workspace's active workflows."""
        active = self.get_queryset().filter(status=WorkflowStatus.ACTIVE)
        return self.paginated(active, WorkflowSerializer)

    # ------------------------------------------------------------ lifecycle
    @extend_schema(
        request=DraftRequestSerializer,
        parameters=[IF_MATCH, ETAG],
        responses={
            200: DraftResponseSerializer,
            **BAD_REQUEST,
            412: OpenApiResponse(
                DraftConflictSerializer, description="The draft was changed elsewhere."
            ),
        },
    )
    def draft(self, request, pk):
        """Save the draft graph: the graph itself, or {"draft": graph}.

        Work in progress saves and comes back with its issues and new revision; a
        broken document (unknown node types, edges to nowhere, duplicate ids...) is
        refused with a 400. With `If-Match: "<revision>"` a draft changed since that
        revision (another tab, a restore) is not overwritten: 412 with the stored draft.
        """
        workflow = self.get_object()
        graph = request.data
        if isinstance(graph, dict) and "draft" in graph and "nodes" not in graph:
            graph = graph["draft"]
        issues = services.save_draft(
            workflow, graph, expected_revisions=if_match_revisions(request)
        )
        response = Response(
            {
                "draft": workflow.draft,
                "issues": [i.as_dict() for i in issues],
                "revision": workflow.draft_revision,
            }
        )
        response["ETag"] = etag(workflow.draft_revision)
        return response

    @extend_schema(
        request=PublishRequestSerializer,
        responses={200: PublishResponseSerializer, **BAD_REQUEST, **CONFLICT},
    )
    def publish(self, request, pk):
        """Validate the draft, freeze it as the next version and activate the workflow.

        A draft with issues is refused with a 409 listing them, and nothing changes.
        """
        workflow = self.get_object()
        data = self.validated(PublishRequestSerializer, request.data)
        with refused_by_state():
            result = services.publish(
                workflow,
                user=acting_user(request),
                note=data["note"],
                migrate_runs=data["migrate_runs"],
            )
        response = self.respond(workflow)
        response.data["migrated_runs"] = result.migrated_runs
        return response

    @extend_schema(
        request=WorkflowStatusChangeSerializer,
        responses={200: WorkflowSerializer, **BAD_REQUEST, **CONFLICT},
    )
    def set_status(self, request, pk):
        """active ⇄ paused, anything → archived (final). Publishing activates a draft."""
        workflow = self.get_object()
        data = self.validated(WorkflowStatusChangeSerializer, request.data)
        with refused_by_state():
            services.change_status(workflow, data["status"])
        return self.respond(workflow)

    @extend_schema(responses=VersionSerializer(many=True))
    def versions(self, request, pk):
        """The published versions, newest first."""
        versions = self.get_object().versions.select_related("published_by").order_by("-number")
        return self.paginated(versions, VersionSerializer)

    @extend_schema(
        request=None,
        parameters=[VERSION_NUMBER],
        responses={200: WorkflowSerializer, **BAD_REQUEST},
    )
    def restore(self, request, pk, number):
        """Copy a published version back into the draft (publish to make it live again)."""
        workflow = self.get_object()
        if not workflow.versions.filter(number=int(number)).exists():
            raise Http404(f"version {number} does not exist")
        with refused_by_state():
            workflow = services.restore_version(workflow, int(number))
        return self.respond(workflow)

    # ------------------------------------------------------------ runtime
    @extend_schema(responses=ResultsSerializer)
    def results(self, request, pk):
        """Runs by status and, per node, how many entered, wait there, completed, failed."""
        return Response(workflow_results(self.get_object().pk))

    @extend_schema(
        parameters=[
            RUN_STATUS_FILTER,
            RUN_CONTACT_FILTER,
            RUN_SINCE_FILTER,
            RUN_UNTIL_FILTER,
            PREVIEW_FILTER,
        ],
        responses=RunSerializer(many=True),
    )
    def runs(self, request, pk):
        """The workflow's runs, newest first (preview runs only with ?preview=true)."""
        workflow = self.get_object()
        preview = choice_param(request, "preview", ["true", "false"]) == "true"
        runs = Run.objects.filter(
            workspace=request.workspace, workflow=workflow, is_preview=preview
        ).select_related("version")
        wanted = choice_param(request, "status", RunStatus.values)
        if wanted:
            runs = runs.filter(status=wanted)
        runs = runs_of_contact_and_dates(runs, request, "created_at")
        return self.paginated(runs.select_related("contact"), RunSerializer)
