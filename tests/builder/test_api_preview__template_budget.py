"""A preview shows a template's budget error as the run would.

Invariant: previewing a draft whose template goes over its budget (on the
real worker) ends with that step failed and the same marketer-facing error
a published run gets, naming the field; nothing is retried or left running.
"""

from __future__ import annotations

import pytest

from automation.models import Run, RunStatus, Step, StepStatus
from builder.models import Role
from tests.automation.workflows import chain, graph, node
from tests.builder.conftest import key_client
from tests.builder.factories import WorkflowFactory, WorkspaceFactory
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

# The loops, sized by the sample contact: validation cannot see them.
NESTED = "{% for a in range(contact.n) %}{% for b in range(contact.n) %}{% endfor %}{% endfor %}"


def test_a_preview_shows_the_budget_error_on_its_step():
    workspace = WorkspaceFactory()
    api = key_client(workspace, Role.EDITOR)
    start = node("start", "trigger.event", event="signup")
    mail = node("mail", "action.email", subject=NESTED, body="Hi")
    workflow = WorkflowFactory(workspace=workspace, draft=graph([start, mail], chain(start, mail)))

    response = api.post(
        f"/api/v1/workflows/{workflow.pk}/preview",
        {"contact": {"email": "bo@example.com", "properties": {"n": 99999}}},
        format="json",
    )

    assert response.status_code == 201, response.data
    run = wait_until(
        lambda: Run.objects.filter(pk=response.data["id"], status=RunStatus.FAILED).first(),
        timeout=60,
        what="the preview ends",
    )
    step = Step.objects.get(run=run, node_id="mail")
    message = "This template repeats too many times (over 10,000): simplify the loop in Subject"
    assert (step.status, step.attempt, step.error) == (StepStatus.FAILED, 1, message)
    detail = api.get(f"/api/v1/runs/{run.pk}/")
    assert [s["error"] for s in detail.data["steps"] if s["node_id"] == "mail"] == [message]
