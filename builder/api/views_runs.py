"""One run with its steps, and the operations on it (retry, cancel)."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.response import Response

from automation.models import Run, Step
from automation.runs import cancel_run, retry_run
from builder.models import Role

from .serializers import DetailSerializer, RunDetailSerializer
from .views import ApiViewMixin

REFUSED = {409: DetailSerializer}


class RunViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Runs of the current workspace."""

    queryset = Run.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = RunDetailSerializer
    required_roles = {"retrieve": Role.VIEWER, "retry": Role.PUBLISHER, "cancel": Role.PUBLISHER}

    def get_queryset(self):
        return (
            Run.objects.filter(workspace=self.request.workspace)
            .select_related("version")
            .prefetch_related(Prefetch("steps", Step.objects.order_by("seq")))
        )

    def respond(self, run: Run) -> Response:
        fresh = self.get_queryset().get(pk=run.pk)
        return Response(self.get_serializer(fresh).data)

    @extend_schema(responses=RunDetailSerializer)
    def retrieve(self, request, pk):
        """One run with its steps in execution order."""
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=None, responses={200: RunDetailSerializer, **REFUSED})
    def retry(self, request, pk):
        """Retry a failed run from the step that failed (409 for a run in any other state)."""
        return self.respond(retry_run(self.get_object()))

    @extend_schema(request=None, responses={200: RunDetailSerializer, **REFUSED})
    def cancel(self, request, pk):
        """Cancel a running or waiting run (409 for a run in any other state)."""
        return self.respond(cancel_run(self.get_object()))
