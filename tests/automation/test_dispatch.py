"""dispatch.by_priority: the queue each run goes to.

Invariant: a run goes to its workflow's priority, read when it is queued; a
preview always goes first (a tester is watching); an id with no run (deleted
meanwhile) still goes somewhere, to normal, rather than being dropped.
"""

from __future__ import annotations

import uuid

import pytest

from automation.dispatch import by_priority
from builder import services
from tests.builder.factories import RunFactory, WorkspaceFactory, published_workflow

pytestmark = pytest.mark.django_db


def test_runs_are_grouped_by_their_workflows_priority_in_the_order_given():
    workspace = WorkspaceFactory()
    low = published_workflow(workspace, priority="low")
    high = published_workflow(workspace, priority="high")
    a, b, c = RunFactory(workflow=low), RunFactory(workflow=high), RunFactory(workflow=low)
    preview = RunFactory(workflow=low, is_preview=True)
    gone = str(uuid.uuid4())

    groups = by_priority([str(a.pk), str(b.pk), gone, str(c.pk), str(preview.pk)])

    assert groups == {
        "low": [str(a.pk), str(c.pk)],
        "high": [str(b.pk), str(preview.pk)],
        "normal": [gone],
    }
    services.update_workflow(high, priority="normal")
    assert by_priority([str(b.pk)]) == {"normal": [str(b.pk)]}


def test_each_priority_has_its_own_reaper():
    """Beat sends one reaper per priority, through that priority's queue: each takes
    only its own runs, so it never overtakes runs still queued at another priority."""
    from datetime import timedelta

    from django.utils import timezone

    from automation import timers
    from automation.models import Run, RunStatus

    workspace = WorkspaceFactory()
    expired = timezone.now() - timedelta(minutes=1)
    runs = {}
    for priority in ("high", "normal", "low"):
        workflow = published_workflow(workspace, priority=priority)
        runs[priority] = RunFactory(
            workflow=workflow, status=RunStatus.RUNNING, lease_until=expired
        )
    preview = RunFactory(
        workflow=runs["low"].workflow,
        status=RunStatus.RUNNING,
        lease_until=expired,
        is_preview=True,
    )

    def reaped() -> set:
        fresh = Run.objects.filter(lease_until__gt=timezone.now())
        return set(fresh.values_list("pk", flat=True))

    assert timers.reap_stale_runs("low") == 1
    assert reaped() == {runs["low"].pk}
    assert timers.reap_stale_runs("high") == 2
    assert reaped() == {runs["low"].pk, runs["high"].pk, preview.pk}
    assert timers.reap_stale_runs() == 1  # the embedded executor: every priority
    assert reaped() == {run.pk for run in runs.values()} | {preview.pk}


def test_each_priority_has_its_own_timer_sweep():
    """A sweep through the low queue wakes low runs only: it never wakes a run of another
    priority that would then wait behind that priority's queue until its lease ran out."""
    from datetime import timedelta

    from django.utils import timezone

    from automation import timers
    from automation.models import Run, RunStatus

    workspace = WorkspaceFactory()
    due = timezone.now() - timedelta(seconds=1)
    runs = {
        priority: RunFactory(
            workflow=published_workflow(workspace, priority=priority),
            status=RunStatus.WAITING,
            resume_at=due,
        )
        for priority in ("high", "normal", "low")
    }

    def woken() -> set:
        return set(Run.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True))

    assert timers.sweep_due_runs("low") == 1
    assert woken() == {runs["low"].pk}
    assert timers.sweep_due_runs() == 2  # the embedded executor: every priority
    assert woken() == {run.pk for run in runs.values()}
