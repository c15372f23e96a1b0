"""A provider node (Slack) through the engine, as the worker runs it, against a
real HTTP server on 127.0.0.1 standing in for Slack.

Invariants, the same for every connector as for action.webhook: 429 waits at
least its Retry-After; 500 and timeouts are retried until the attempts run
out; a 400 fails at once with the (redacted) answer kept; after
CIRCUIT_BREAKER_THRESHOLD transient failures in a row the connection's circuit
opens, runs using it wait without calling Slack or using attempts, and go on
once a probe succeeds.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone

from automation import timers
from automation.engine import Outcome, advance_run
from automation.models import Run, RunStatus, Step, StepStatus
from integrations.models import Connection
from tests.automation.workflows import chain, graph, node, published, send, workspace

pytestmark = pytest.mark.django_db

TOKEN = "xoxb-engine-token-5150"
POSTED = {"ok": True, "channel": "C1", "ts": "1.2"}


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.ACTION_RETRY_BASE_SECONDS = 1
    settings.ACTION_RETRY_MAX_SECONDS = 600
    settings.ACTION_MAX_ATTEMPTS = 3


@pytest.fixture
def slack(service):
    made = Connection(
        workspace=workspace(), provider="slack", name="Slack", settings={"base_url": service.url}
    )
    made.set_secrets({"bot_token": TOKEN})
    made.save()
    start = node("start", "trigger.event", event="upgraded")
    post = node("post", "action.slack", connection=str(made.pk), channel="#sales", text="hi")
    published(graph([start, post], chain(start, post)))
    return made


def start_run(email="ada@example.com") -> Run:
    send("upgraded", email)
    return Run.objects.get(contact__email=email)


def make_due(run: Run) -> None:
    Run.objects.filter(pk=run.pk).update(resume_at=timezone.now() - timedelta(seconds=1))
    assert timers.sweep_due_runs() == 1


def post_step(run: Run) -> Step:
    return Step.objects.get(run=run, node_id="post")


def test_429_waits_for_retry_after(service, slack):
    service.answer(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "90"})
    run = start_run()
    assert advance_run(run.pk) is Outcome.WAITING
    run.refresh_from_db()
    step = post_step(run)
    assert step.status == StepStatus.RETRYING
    assert run.resume_at >= step.finished_at + timedelta(seconds=89)
    make_due(run)
    assert advance_run(run.pk) is Outcome.COMPLETED
    assert len(service.requests) == 2


def test_a_500_and_a_timeout_are_retried_then_it_posts(settings, service, slack):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    service.answer(500, b"oops")
    service.answer(200, {"ok": True, "ts": "late"}, delay=1)  # after the client gave up
    service.answer(200, POSTED)
    run = start_run()
    assert advance_run(run.pk) is Outcome.WAITING
    assert "500" in post_step(run).error
    make_due(run)
    assert advance_run(run.pk) is Outcome.WAITING
    assert "timed out after 0.3s" in post_step(run).error
    make_due(run)
    assert advance_run(run.pk) is Outcome.COMPLETED
    step = post_step(run)
    assert (step.attempt, step.output["ts"]) == (3, "1.2")


def test_timeouts_until_the_attempts_run_out_fail_the_run(settings, service, slack):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    for _ in range(3):
        service.answer(200, POSTED, delay=0.6)
    run = start_run()
    advance_run(run.pk)
    for _ in range(2):
        make_due(run)
        outcome = advance_run(run.pk)
    assert outcome is Outcome.FAILED
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "timed out" in run.error
    assert len(service.requests) == 3


def test_a_400_fails_at_once_with_the_answer_kept(service, slack):
    service.answer(400, {"ok": False, "error": "invalid_arguments", "token": TOKEN})
    run = start_run()
    assert advance_run(run.pk) is Outcome.FAILED
    step = post_step(run)
    assert len(service.requests) == 1
    assert step.output["response"]["status"] == 400
    assert step.output["response"]["body"]["error"] == "invalid_arguments"
    assert TOKEN not in json.dumps(step.output)


def test_the_circuit_opens_for_the_connection_and_runs_wait_without_using_attempts(
    settings, service, slack
):
    settings.CIRCUIT_BREAKER_THRESHOLD = 2
    settings.CIRCUIT_BREAKER_COOLDOWN_SECONDS = 300
    service.answer(503, b"down")
    service.answer(500, b"down")
    first = start_run("a@example.com")
    advance_run(first.pk)
    make_due(first)
    advance_run(first.pk)  # the second failure in a row opens the circuit
    assert len(service.requests) == 2
    second = start_run("b@example.com")
    assert advance_run(second.pk) is Outcome.WAITING  # not called: the circuit is open
    for _ in range(4):  # more visits than ACTION_MAX_ATTEMPTS: nobody fails
        for waiting in (first, second):
            make_due(waiting)
            assert advance_run(waiting.pk) is Outcome.WAITING
    assert len(service.requests) == 2
    for waiting in (first, second):
        waiting.refresh_from_db()
        assert waiting.status == RunStatus.WAITING
        assert "circuit breaker" in post_step(waiting).error
        assert waiting.resume_at > timezone.now() + timedelta(seconds=200)

    # Slack is back and the cooldown is over: the next visit probes, and it works.
    caches["integrations"].delete(f"cb:connection:{slack.pk}:open_until")
    for waiting in (first, second):
        make_due(waiting)
        assert advance_run(waiting.pk) is Outcome.COMPLETED
    assert len(service.requests) == 4
