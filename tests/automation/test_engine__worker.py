"""The engine on a real Celery worker (with beat), real PostgreSQL and Redis."""

import pytest

from automation.models import Run, RunStatus, StepStatus
from tests.automation.workflows import chain, edge, graph, node, path_of, published, send
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def finished(run_filter=None, count=1):
    def check():
        runs = list(Run.objects.filter(**(run_filter or {})))
        done = [r for r in runs if r.status not in (RunStatus.RUNNING, RunStatus.WAITING)]
        return done if len(done) >= count else None

    return check


def test_branching_workflow_with_a_real_wait_takes_the_right_path(outbox):
    start = node("start", "trigger.event", event="signup")
    hello = node("hello", "action.email", subject="Hi {{ contact.first_name }}", body="Welcome")
    pause = node("pause", "wait.delay", amount=1, unit="seconds")
    check = node(
        "check",
        "condition.if",
        match="all",
        rules=[{"field": "contact.properties.plan", "op": "eq", "value": "pro"}],
    )
    pro = node("pro", "action.tag", add=["pro-path"])
    free = node("free", "action.tag", add=["free-path"])
    published(
        graph(
            [start, hello, pause, check, pro, free],
            [
                *chain(start, hello, pause, check),
                edge("check", "pro", "yes"),
                edge("check", "free", "no"),
            ],
        )
    )

    send("signup", "ada@example.com", properties={"first_name": "Ada", "plan": "pro"})
    send("signup", "bob@example.com", properties={"first_name": "Bob", "plan": "free"})

    runs = wait_until(finished(count=2), what="both runs finish")
    by_email = {run.contact.email: run for run in runs}
    assert path_of(by_email["ada@example.com"]) == ["start", "hello", "pause", "check", "pro"]
    assert path_of(by_email["bob@example.com"]) == ["start", "hello", "pause", "check", "free"]
    assert by_email["ada@example.com"].contact.tags == ["pro-path"]
    assert {m["subject"] for m in outbox.messages} == {"Hi Ada", "Hi Bob"}
    wait_step = by_email["ada@example.com"].steps.get(node_id="pause")
    # The wait is one step row, held for at least the delay, then completed.
    assert wait_step.status == StepStatus.COMPLETED
    assert (wait_step.finished_at - wait_step.started_at).total_seconds() >= 1
