"""Annotations shared by the API and the admin: counts per workflow in one query."""

from __future__ import annotations

from django.db.models import Count, IntegerField, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from automation.models import ACTIVE_RUN_STATUSES, Run

from .models import WorkflowVersion


def count_of(queryset: QuerySet, link: str) -> Coalesce:
    """An annotation counting the rows of `queryset` whose `link` is the outer row.

    A subquery per column, rather than Count() over joins, so two counts on
    one row never multiply each other's rows.
    """
    counted = (
        queryset.filter(**{link: OuterRef("pk")})
        .order_by()
        .values(link)
        .annotate(total=Count("pk"))
        .values("total")[:1]
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def with_counts(workflows: QuerySet) -> QuerySet:
    """Workflows with `latest_number`, `enrolled` and `active_runs` (previews never count).

    `enrolled`: real runs ever started; `active_runs`: those running or waiting now.
    """
    real_runs = Run.objects.filter(is_preview=False)
    latest = Subquery(
        WorkflowVersion.objects.filter(workflow=OuterRef("pk"))
        .order_by()
        .values("workflow")
        .annotate(latest=Max("number"))
        .values("latest")[:1],
        output_field=IntegerField(),
    )
    return workflows.annotate(
        latest_number=latest,
        enrolled_total=count_of(real_runs, "workflow"),
        active_run_total=count_of(real_runs.filter(status__in=ACTIVE_RUN_STATUSES), "workflow"),
    )
