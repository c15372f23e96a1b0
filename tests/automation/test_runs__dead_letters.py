"""Dead letters on the real worker: a run that failed after its retries is listed,
retried in bulk from the failed step (it completes, its step row reused), or
discarded (cancelled, the failure kept in its history).

Invariant: bulk retry is the single-run retry path (transitions.retry +
dispatch at the workflow's priority), so a retried run resumes at the failed
node with a fresh set of attempts and never writes a second row for that visit.
"""

from __future__ import annotations

import pytest

from automation.models import Run, RunStatus, StepStatus
from automation.runs import dead_letters, discard_dead_letters, retry_dead_letters
from builder import services
from tests.automation.workflows import chain, graph, node, path_of, published, send, workspace
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def test_failed_runs_are_retried_in_bulk_and_discarded(http_target):
    start = node("start", "trigger.event", event="order_placed")
    hook = node("hook", "action.webhook", method="POST", url=f"{http_target.url}/crm")
    done = node("done", "action.tag", add=["synced"])
    flow = published(graph([start, hook, done], chain(start, hook, done), reenrollment="always"))
    services.update_workflow(flow, priority="low")
    for _ in range(3 * 3):  # three runs, three attempts each
        http_target.answer(500)
    for name in ("ada", "bob", "cy"):
        send("order_placed", f"{name}@example.com")

    wait_until(
        lambda: dead_letters(workspace().pk).count() == 3, timeout=60, what="three runs fail"
    )
    failed = {run.contact.email: run for run in dead_letters(workspace().pk)}
    assert all(run.steps.get(node_id="hook").attempt == 3 for run in failed.values())

    retried = retry_dead_letters(
        workspace().pk, [failed["ada@example.com"].pk, failed["bob@example.com"].pk]
    )
    discarded = discard_dead_letters(workspace().pk, [failed["cy@example.com"].pk], by="ops")

    assert len(retried.runs) == 2 and len(discarded.runs) == 1
    wait_until(
        lambda: Run.objects.filter(status=RunStatus.COMPLETED).count() == 2,
        what="the retried runs complete on the worker",
    )
    for email in ("ada@example.com", "bob@example.com"):
        run = Run.objects.get(pk=failed[email].pk)
        assert path_of(run) == ["start", "hook", "done"]
        assert run.steps.get(node_id="hook").attempt == 4  # the same step row, retried
    cy = Run.objects.get(pk=failed["cy@example.com"].pk)
    assert cy.status == RunStatus.CANCELLED
    assert cy.error.startswith("discarded: ") and "by ops" in cy.error and "500" in cy.error
    assert cy.steps.get(node_id="hook").status == StepStatus.FAILED
    assert dead_letters(workspace().pk).count() == 0
    assert len(http_target.requests) == 3 * 3 + 2
