"""GET /metrics: Prometheus text, private by default, numbers read at scrape time.

Invariant: the numbers come from PostgreSQL and Redis, so they move when runs
happen on a real worker in another process, and any web process reports the
same. The worker and beat stay quiet about the every-second timer sweep.
"""

from __future__ import annotations

import time

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from automation.models import Run, RunStatus
from builder.models import Role
from tests.automation.workflows import chain, graph, node, published, workspace
from tests.builder.factories import MembershipFactory, UserFactory, make_api_key
from tests.conftest import wait_until

TOKEN = "metrics-test-token"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape() -> dict[tuple[str, tuple], float]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    values = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(metrics: dict, name: str, **labels) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def post_events(*events: dict) -> None:
    _key, raw = make_api_key(workspace(), Role.EDITOR)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post("/api/v1/events", {"events": list(events)}, format="json")
    assert response.status_code == 202, response.content


def event(event_id: str, event_type: str, email: str) -> dict:
    return {"id": event_id, "type": event_type, "contact": {"email": email}, "data": {}}


def finished_runs(count: int):
    def check():
        done = Run.objects.exclude(status__in=[RunStatus.RUNNING, RunStatus.WAITING]).count()
        return done >= count

    return check


# ---------------------------------------------------------------- who may read


@pytest.mark.django_db
def test_metrics_are_private_without_a_token_or_staff_login(token):
    anonymous = Client().get("/metrics")
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    member = Client()
    member.force_login(MembershipFactory(role=Role.ADMIN).user)

    for response in (anonymous, wrong, member.get("/metrics")):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert response.json()["detail"] == (
            "metrics are private: send Authorization: Bearer <METRICS_TOKEN>"
        )


@pytest.mark.django_db
def test_with_no_token_set_only_staff_may_read(settings):
    settings.METRICS_TOKEN = ""
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))

    refused = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    answer = staff.get("/metrics")

    assert refused.status_code == 401
    assert "set METRICS_TOKEN" in refused.json()["detail"]
    assert answer.status_code == 200
    assert b"# TYPE cairn_runs_started_total counter" in answer.content


# ---------------------------------------------------------------- the numbers move


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_runs_steps_and_events_move_when_runs_happen_on_the_worker(token, http_target):
    start = node("start", "trigger.event", event="signup")
    tag = node("tag", "action.tag", add=["welcomed"])
    published(graph([start, tag], chain(start, tag)), name="Welcome")
    order = node("start", "trigger.event", event="order_placed")
    hook = node("hook", "action.webhook", method="POST", url=f"{http_target.url}/crm")
    published(graph([order, hook], chain(order, hook)), name="Sync")
    http_target.answer(400)  # a 4xx fails the run at once
    before = scrape()

    post_events(
        event("m-1", "signup", "ada@example.com"),
        event("m-2", "signup", "bob@example.com"),
        event("m-3", "signup", "cy@example.com"),
        event("m-4", "order_placed", "ada@example.com"),
    )
    wait_until(finished_runs(4), what="the four runs end on the worker")
    after = scrape()

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("cairn_runs_started_total") == 4
    assert moved("cairn_runs_completed_total") == 3
    assert moved("cairn_runs_failed_total") == 1
    assert moved("cairn_runs", status="completed") == 3
    assert moved("cairn_runs", status="failed") == 1
    # Three runs of start + tag, one of start + a failed hook.
    assert moved("cairn_steps_total", status="completed") == 7
    assert moved("cairn_steps_total", status="failed") == 1
    assert moved("cairn_events_received_total") == 4
    assert value(after, "cairn_events_received_last_minute") >= 4


@pytest.mark.django_db(transaction=True)
def test_sweep_lag_shows_a_stalled_beat(token, celery_worker):
    start = node("start", "trigger.event", event="signup")
    pause = node("pause", "wait.delay", amount=1, unit="seconds")
    tag = node("tag", "action.tag", add=["waited"])
    published(graph([start, pause, tag], chain(start, pause, tag)))
    celery_worker.beat.kill()  # no sweep: the timer falls due and stays due
    try:
        post_events(event("lag-1", "signup", "ada@example.com"))
        wait_until(
            lambda: Run.objects.filter(status=RunStatus.WAITING).exists(), what="the run waits"
        )
        stalled = wait_until(
            lambda: (m := scrape()) and value(m, "cairn_timer_sweep_lag_seconds") >= 2 and m,
            what="the due timer's lag reaches 2 s",
        )
        assert value(stalled, "cairn_timers_due") == 1
    finally:
        celery_worker.beat.start()

    wait_until(finished_runs(1), what="beat is back: the run is released and completes")
    released = scrape()
    assert value(released, "cairn_timers_due") == 0
    assert value(released, "cairn_timer_sweep_lag_seconds") == 0
    assert value(released, "cairn_runs_completed_total") == 1


@pytest.mark.django_db
def test_runs_released_counts_due_runs_waiting_for_room_in_their_queue(token, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from automation import tasks, timers
    from tests.builder.factories import RunFactory, published_workflow

    workflow = published_workflow(workspace())
    due = timezone.now() - timedelta(seconds=1)
    for _ in range(3):
        RunFactory(workflow=workflow, status=RunStatus.WAITING, resume_at=due)
    monkeypatch.setattr(tasks, "QUEUE_BOUND_MESSAGES", 0)  # the queue is full
    timers.sweep_due_runs()

    full = scrape()
    assert value(full, "cairn_runs_released") == 3
    assert value(full, "cairn_timers_due") == 0  # released: the sweep did its part

    monkeypatch.setattr(tasks, "QUEUE_BOUND_MESSAGES", 40)
    timers.sweep_due_runs()
    assert value(scrape(), "cairn_runs_released") == 0


@pytest.mark.django_db(transaction=True)
def test_queue_depth_shows_messages_no_worker_takes(token, celery_worker):
    from config.celery import app

    # The worker stops taking housekeeping messages; beat goes on sending the
    # sweep (every second) and the reaper (every two) there.
    app.control.cancel_consumer("housekeeping", reply=True, timeout=5)
    try:
        backlog = wait_until(
            lambda: (
                (m := scrape()) and value(m, "cairn_queue_depth", queue="housekeeping") >= 3 and m
            ),
            what="messages pile up in the queue",
        )
        assert value(backlog, "cairn_queue_depth", queue="housekeeping") >= 3
    finally:
        app.control.add_consumer("housekeeping", reply=True, timeout=5)

    wait_until(
        lambda: value(scrape(), "cairn_queue_depth", queue="housekeeping") == 0,
        what="the worker drains the queue",
    )


# ---------------------------------------------------------------- quiet logs


@pytest.mark.django_db(transaction=True)
def test_worker_and_beat_log_no_line_per_timer_sweep(celery_worker):
    # The worker and beat run as the Procfile starts them (--loglevel=INFO, the
    # LOG_LEVEL default); TASK_LOG_LEVEL is left at its default.
    # Only what they log from now on: an earlier test may have left expired
    # sweep messages whose discarding the worker reports once.
    worker_start = len(celery_worker.log_path.read_text())
    beat_start = len(celery_worker.beat.log_path.read_text())
    time.sleep(3)  # three sweeps at least

    assert "ready." in celery_worker.log_path.read_text()  # INFO lines are logged
    worker_log = celery_worker.log_path.read_text()[worker_start:]
    beat_log = celery_worker.beat.log_path.read_text()[beat_start:]
    assert "automation.sweep_due_runs[" not in worker_log
    assert "Sending due task sweep-due-runs" not in beat_log
