"""action.webhook through the engine (advance_run called directly, as the worker does).

Invariants: 429 and 5xx are retried, never before the Retry-After the
service asked for; other 4xx fail the run at once with the (redacted)
response kept on the step; an open circuit breaker makes runs wait without
using up attempts, and they go on when the service recovers; the outbound
signature's webhook-id is the same on every retry; a connection's secret
appears in no step, run, API answer or log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone

from automation import timers
from automation.engine import Outcome, advance_run
from automation.graph import version_graph
from automation.models import Run, RunStatus, Step, StepStatus
from builder.models import Role, WorkflowVersion
from integrations.models import Connection
from integrations.standard_webhooks import new_secret
from tests.automation.workflows import chain, graph, node, published, send, workspace
from tests.builder.conftest import key_client

pytestmark = pytest.mark.django_db

TOKEN = "tok_live_5ecr3t_never_shown_abcdef"


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.ACTION_RETRY_BASE_SECONDS = 1
    settings.ACTION_RETRY_MAX_SECONDS = 600
    settings.ACTION_MAX_ATTEMPTS = 3


def connection(site: str, **fields) -> Connection:
    """An http connection of the test workspace, for `site` (its one host)."""
    made = Connection(workspace=workspace(), provider="http", name=fields.pop("name", "CRM"))
    made.settings = {"hosts": [site], **fields.pop("settings", {"auth": "bearer"})}
    made.set_secrets(fields.pop("secrets", {"token": TOKEN}))
    made.save()
    return made


def hook_flow(url, **config):
    start = node("start", "trigger.event", event="order_placed")
    hook = node("hook", "action.webhook", url=url, body={"order": "{{ event.data.n }}"}, **config)
    done = node("done", "action.tag", add=["synced"])
    published(graph([start, hook, done], chain(start, hook, done)))


def start_run(email="ada@example.com", n=1) -> Run:
    send("order_placed", email, data={"n": n}, event_id=f"{email}-{n}")
    return Run.objects.get(contact__email=email)


def make_due(run: Run) -> None:
    """Fast-forward the run's timer and let the sweep wake it (waiting -> running)."""
    Run.objects.filter(pk=run.pk).update(resume_at=timezone.now() - timedelta(seconds=1))
    assert timers.sweep_due_runs() == 1


def hook_step(run: Run) -> Step:
    return Step.objects.get(run=run, node_id="hook")


def test_429_waits_at_least_retry_after_then_succeeds(service):
    hook_flow(service.url + "/orders")
    service.answer(429, {"error": "slow down"}, headers={"Retry-After": "120"})
    run = start_run()

    assert advance_run(run.pk) is Outcome.WAITING

    run.refresh_from_db()
    step = hook_step(run)
    assert step.status == StepStatus.RETRYING
    # Our own backoff would be ~1 s; the service asked for two minutes.
    assert run.resume_at >= step.finished_at + timedelta(seconds=119)
    make_due(run)
    assert advance_run(run.pk) is Outcome.COMPLETED
    assert len(service.requests) == 2
    keys = {r["headers"]["idempotency-key"] for r in service.requests}
    assert len(keys) == 1


def test_retry_after_as_an_http_date(service):
    hook_flow(service.url)
    later = timezone.now() + timedelta(minutes=10)
    service.answer(
        503, b"down", headers={"Retry-After": later.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    )
    run = start_run()
    advance_run(run.pk)
    run.refresh_from_db()
    assert run.resume_at >= later - timedelta(seconds=2)


def test_a_4xx_fails_at_once_with_the_response_kept(service):
    hook_flow(service.url)
    service.answer(422, {"error": "order 1 is invalid", "token": "server-said-this"})
    run = start_run()

    assert advance_run(run.pk) is Outcome.FAILED

    step = hook_step(run)
    assert len(service.requests) == 1
    assert step.status == StepStatus.FAILED
    assert "422" in step.error
    assert step.output["response"]["status"] == 422
    assert step.output["response"]["body"] == {
        "error": "order 1 is invalid",
        "token": "[redacted]",
    }


def test_5xx_and_timeouts_are_retried(service):
    hook_flow(service.url, timeout_seconds=0.3)
    service.answer(500, b"oops")
    service.answer(200, {}, delay=1)
    run = start_run()
    assert advance_run(run.pk) is Outcome.WAITING
    make_due(run)
    assert advance_run(run.pk) is Outcome.WAITING
    assert "timed out" in hook_step(run).error
    make_due(run)
    assert advance_run(run.pk) is Outcome.COMPLETED
    assert hook_step(run).attempt == 3


def test_outbound_signing_per_standard_webhooks_with_a_stable_id(service):
    secret = new_secret()
    signer = connection(
        service.url, name="Signer", settings={"auth": "signing"}, secrets={"signing_secret": secret}
    )
    hook_flow(service.url + "/in", connection=str(signer.pk))
    service.answer(500, b"retry me")
    run = start_run()
    advance_run(run.pk)
    make_due(run)
    assert advance_run(run.pk) is Outcome.COMPLETED

    first, second = service.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert first["headers"]["webhook-id"].startswith("msg_")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    for request in (first, second):
        h = request["headers"]
        content = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + request["body"]
        expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
        assert h["webhook-signature"] == f"v1,{expected}"
    assert json.loads(second["body"]) == {"order": "1"}
    assert Step.objects.get(run=run, node_id="hook").output["webhook_id"] == h["webhook-id"]


@pytest.mark.parametrize(
    ("settings_", "secrets", "header", "value"),
    [
        ({"auth": "bearer"}, {"token": TOKEN}, "authorization", f"Bearer {TOKEN}"),
        (
            {"auth": "basic", "username": "cairn"},
            {"password": TOKEN},
            "authorization",
            "Basic " + base64.b64encode(f"cairn:{TOKEN}".encode()).decode(),
        ),
        (
            {"auth": "header", "header_name": "X-Api-Key"},
            {"header_value": TOKEN},
            "x-api-key",
            TOKEN,
        ),
    ],
)
def test_connection_auth(service, settings_, secrets, header, value):
    auth = connection(service.url, settings=settings_, secrets=secrets)
    hook_flow(service.url, connection=str(auth.pk))
    run = start_run()
    assert advance_run(run.pk) is Outcome.COMPLETED
    assert service.requests[0]["headers"][header] == value


def test_a_connection_of_another_workspace_is_not_used(service):
    foreign = Connection(
        workspace=workspace("other"),
        provider="http",
        name="Theirs",
        settings={"auth": "bearer", "hosts": [service.url]},
    )
    foreign.set_secrets({"token": TOKEN})
    foreign.save()
    # Validation refuses such a graph now (builder/references.py); one stored
    # before it did must still not reach the other workspace's secret.
    own = connection(service.url)
    hook_flow(service.url, connection=str(own.pk))
    version = WorkflowVersion.objects.get()
    document = version.graph
    document["nodes"][1]["data"]["config"]["connection"] = str(foreign.pk)
    WorkflowVersion.objects.filter(pk=version.pk).update(graph=document)
    version_graph.__globals__["_cache"].clear()
    run = start_run()
    assert advance_run(run.pk) is Outcome.FAILED
    assert "does not exist in this workspace" in hook_step(run).error
    assert service.requests == []


def test_secrets_appear_in_no_step_run_api_answer_or_log(service, caplog, workspace_a):
    caplog.set_level(logging.DEBUG)
    auth = connection(service.url)
    hook_flow(service.url + "/echo", connection=str(auth.pk))
    # A careless service echoes the credential back.
    service.answer(200, {"you_sent": f"Bearer {TOKEN}", "note": f"token={TOKEN}"})
    run = start_run()
    assert advance_run(run.pk) is Outcome.COMPLETED
    run.refresh_from_db()
    stored = json.dumps(
        [list(Step.objects.filter(run=run).values()), run.outputs, run.error], default=str
    )
    assert TOKEN not in stored
    admin_api = key_client(run.workspace, Role.ADMIN)
    answer = admin_api.get(f"/api/v1/runs/{run.pk}/")
    assert answer.status_code == 200
    assert TOKEN not in answer.content.decode()
    assert TOKEN not in caplog.text
    assert service.requests[0]["headers"]["authorization"] == f"Bearer {TOKEN}"


# ------------------------------------------------------------------ circuit breaker


def test_an_open_circuit_makes_runs_wait_without_using_attempts_then_resume(settings, service):
    settings.CIRCUIT_BREAKER_THRESHOLD = 2
    settings.CIRCUIT_BREAKER_COOLDOWN_SECONDS = 300
    auth = connection(service.url)
    hook_flow(service.url, connection=str(auth.pk))
    service.answer(500, b"down")
    service.answer(500, b"down")
    run = start_run("a@example.com")
    advance_run(run.pk)
    make_due(run)
    advance_run(run.pk)  # the second failure in a row opens the circuit
    assert len(service.requests) == 2
    other = start_run("b@example.com")
    assert advance_run(other.pk) is Outcome.WAITING  # the circuit is open: it waits at once
    assert len(service.requests) == 2

    # Far more visits than ACTION_MAX_ATTEMPTS: nobody is called, nobody fails.
    for _ in range(5):
        for waiting in (run, other):
            make_due(waiting)
            assert advance_run(waiting.pk) is Outcome.WAITING
    assert len(service.requests) == 2
    for waiting in (run, other):
        waiting.refresh_from_db()
        assert waiting.status == RunStatus.WAITING
        assert "circuit breaker" in hook_step(waiting).error
        # The wait lasts the cooldown, not our short backoff.
        assert waiting.resume_at > timezone.now() + timedelta(seconds=200)

    # The service recovers; the cooldown ends: the next visit is a probe that succeeds.
    caches["integrations"].delete(f"cb:connection:{auth.pk}:open_until")
    for waiting in (run, other):
        make_due(waiting)
        assert advance_run(waiting.pk) is Outcome.COMPLETED
    assert len(service.requests) == 4


def test_a_failed_probe_opens_the_circuit_again_at_once(settings, service):
    settings.CIRCUIT_BREAKER_THRESHOLD = 2
    settings.ACTION_MAX_ATTEMPTS = 5
    auth = connection(service.url)
    hook_flow(service.url, connection=str(auth.pk))
    for _ in range(3):
        service.answer(500, b"down")
    run = start_run()
    advance_run(run.pk)
    make_due(run)
    advance_run(run.pk)
    caches["integrations"].delete(f"cb:connection:{auth.pk}:open_until")
    make_due(run)
    advance_run(run.pk)  # the probe fails
    make_due(run)
    assert advance_run(run.pk) is Outcome.WAITING
    assert len(service.requests) == 3  # one failed probe reopened it: not called again
    assert "circuit breaker" in hook_step(run).error
