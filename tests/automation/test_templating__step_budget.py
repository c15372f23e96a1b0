"""One budget for all the templates of a step (automation/template_budget.shared).

Invariant: a step cannot multiply the template budget by spreading its loops
over several fields: the engine opens one budget around the step, and every
field it renders spends from it.
"""

from __future__ import annotations

import pytest

from automation.engine import advance_run
from automation.models import Run, RunStatus
from tests.automation.workflows import chain, graph, node, published, send

LOOP = "{% for i in range(4000) %}{% endfor %}ok"  # 40 % of the 10,000 iterations


def update_flow(fields: int):
    start = node("start", "trigger.event", event="signup")
    update = node(
        "update", "action.update_contact", properties={f"p{n}": LOOP for n in range(fields)}
    )
    return published(graph([start, update], chain(start, update)))


@pytest.mark.django_db
def test_a_step_whose_fields_together_go_over_the_budget_fails_with_the_budget_error(settings):
    settings.TEMPLATE_MAX_ITERATIONS = 10_000
    update_flow(fields=3)  # 12,000 iterations in one step
    send("signup", "ada@example.com")
    run = Run.objects.get()

    advance_run(run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    step = run.steps.get(node_id="update")
    assert "repeats too many times (over 10,000)" in step.error


@pytest.mark.django_db
def test_a_step_within_the_budget_renders_every_field(settings):
    settings.TEMPLATE_MAX_ITERATIONS = 10_000
    update_flow(fields=2)  # 8,000 iterations
    send("signup", "ada@example.com")
    run = Run.objects.get()

    advance_run(run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.contact.properties == {"p0": "ok", "p1": "ok"}
