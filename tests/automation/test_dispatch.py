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
