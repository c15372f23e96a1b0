"""The engine on a real Celery worker (with beat), real PostgreSQL and Redis."""

import pytest

from automation.models import Run, RunStatus, Step, StepStatus
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


def webhook_flow(url):
    start = node("start", "trigger.event", event="order_placed")
    hook = node("hook", "action.webhook", method="POST", url=url,
                body={"email": "{{ contact.email }}"})  # fmt: skip
    done = node("done", "action.tag", add=["synced"])
    return published(graph([start, hook, done], chain(start, hook, done)))


def test_a_failing_webhook_is_retried_with_backoff_until_it_succeeds(http_target):
    # The worker runs with ACTION_MAX_ATTEMPTS=3 and a 0.5 s base backoff.
    for status in (503, 500):
        http_target.answer(status)
    webhook_flow(f"{http_target.url}/crm")
    send("order_placed", "ada@example.com")

    (run,) = wait_until(finished(), what="the run completes after retries")
    assert run.status == RunStatus.COMPLETED
    assert path_of(run) == ["start", "hook", "done"]  # one step row for the retried visit
    hook = run.steps.get(node_id="hook")
    assert hook.attempt == 3 and hook.output["status"] == 200
    assert len(http_target.requests) == 3
    # Every attempt of the visit carries the same idempotency key.
    keys = {r["headers"]["idempotency-key"] for r in http_target.requests}
    assert keys == {f"{run.pk}:2"}


def test_a_run_that_exhausts_its_retries_fails_visibly_and_can_be_retried(http_target):
    from automation.runs import retry_run

    for _ in range(3):
        http_target.answer(500)
    webhook_flow(f"{http_target.url}/crm")
    send("order_placed", "bob@example.com")

    (run,) = wait_until(finished(), what="the run fails")
    assert run.status == RunStatus.FAILED
    assert run.current_node == "hook" and "500" in run.error
    hook = run.steps.get(node_id="hook")
    assert hook.status == StepStatus.FAILED and hook.attempt == 3 and hook.traceback

    retry_run(run)  # the target is healthy again
    wait_until(
        lambda: Run.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).exists(),
        what="the retried run completes",
    )
    assert path_of(run) == ["start", "hook", "done"]
    assert run.steps.get(node_id="hook").attempt == 4


def test_the_reaper_requeues_a_run_whose_worker_vanished():
    # A run left `running` with no message in the queue (its worker died
    # after the broker lost the message) is picked up when its lease ends.
    from datetime import timedelta

    from django.utils import timezone

    from automation.models import Contact

    workflow = published(graph(
        [node("start", "trigger.event", event="never"), node("tag", "action.tag", add=["x"])],
        [{"id": "e", "source": "start", "target": "tag"}],
    ))  # fmt: skip
    contact = Contact.objects.create(workspace_id=workflow.workspace_id, email="lost@example.com")
    run = Run.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version=workflow.versions.get(),
        contact=contact,
        trigger_node="start",
        current_node="start",
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    wait_until(
        lambda: Run.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).exists(),
        timeout=40,
        what="the reaper re-queues the run (beat runs it every 15 s)",
    )
    assert path_of(run) == ["start", "tag"]


def test_archiving_through_the_api_cancels_waiting_runs_on_the_worker():
    from builder import services

    start = node("start", "trigger.event", event="signup")
    pause = node("pause", "wait.delay", amount=1, unit="days")
    workflow = published(graph([start, pause], chain(start, pause)))
    for n in range(3):
        send("signup", f"p{n}@example.com")
    wait_until(
        lambda: Run.objects.filter(status=RunStatus.WAITING).count() == 3,
        what="three runs wait",
    )

    services.change_status(workflow, "archived")

    wait_until(
        lambda: Run.objects.filter(status=RunStatus.CANCELLED).count() == 3,
        what="the worker cancels the archived workflow's runs",
    )
    assert set(Step.objects.filter(node_id="pause").values_list("status", flat=True)) == {
        StepStatus.CANCELLED
    }
