"""Runs that nothing will ever move again: no timer, queue or event can wake them.

Each reason is a query over runs in flight (previews excluded); none should
ever find anything. `manage.py check_runs` lists them (and with `--repair`
puts them back on their way), and the `cairn_runs_stranded{reason}` metric
counts them, so an operator learns of a fault before a customer does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from . import transitions
from .models import Deployment, DeploymentStatus, Run, RunStatus
from .timers import wake_runs

# An archived workflow's runs are cancelled by a worker after the archive
# commits; only runs left after this long count as stranded.
CLEANUP_GRACE = timedelta(minutes=5)


def _no_timer_no_event() -> QuerySet:
    """Waiting, not held, with neither a timer nor a subscription."""
    return Run.objects.filter(
        status=RunStatus.WAITING, held=False, resume_at__isnull=True, waiting_for=""
    )


def _held_on_a_live_workflow() -> QuerySet:
    """Held by a pause, but the workflow is live: the sweep skips them for ever."""
    live = Deployment.objects.filter(status=DeploymentStatus.ACTIVE).values("pk")
    return Run.objects.filter(status=RunStatus.WAITING, held=True, workflow_id__in=live)


def _in_flight_on_an_archived_workflow() -> QuerySet:
    """Running or waiting on an archived workflow, after its clean-up had time."""
    return Run.objects.filter(
        Q(status=RunStatus.WAITING) | Q(status=RunStatus.RUNNING),
        workflow_id__in=Deployment.objects.filter(
            status=DeploymentStatus.ARCHIVED, updated_at__lt=timezone.now() - CLEANUP_GRACE
        ).values("pk"),
    )


REASONS: dict[str, Callable[[], QuerySet]] = {
    "no_timer_no_event": _no_timer_no_event,
    "held_on_a_live_workflow": _held_on_a_live_workflow,
    "in_flight_on_an_archived_workflow": _in_flight_on_an_archived_workflow,
}


def stranded(reason: str) -> QuerySet:
    return REASONS[reason]().filter(is_preview=False)


def counts() -> dict[str, int]:
    return {reason: stranded(reason).count() for reason in REASONS}


@transaction.atomic
def repair() -> dict[str, int]:
    """Put stranded runs back on their way: wake the forgotten, release the held,
    cancel what an archive left behind."""
    forgotten = list(stranded("no_timer_no_event").values_list("pk", flat=True))
    Run.objects.filter(pk__in=forgotten).update(resume_at=timezone.now())
    return {
        "no_timer_no_event": wake_runs(Q(pk__in=forgotten), limit=len(forgotten) or 1),
        "held_on_a_live_workflow": transitions.release_runs(stranded("held_on_a_live_workflow")),
        "in_flight_on_an_archived_workflow": transitions.cancel_runs(
            stranded("in_flight_on_an_archived_workflow"), "the workflow was archived"
        ),
    }
