"""A web process whose Redis is down logs it a few times, with counts, and counts every failure.

Invariant (config/dependency_log.py): with Redis down for 20 s the web
processes wrote 49,000 log lines (2,855 tracebacks): a traceback per stored
event. Now a failing dependency is one line per DEPENDENCY_LOG_SECONDS per
process, with the count of failures since the last line, no traceback; and
`cairn_dependency_failures_total{dependency="redis"}` counts every failure.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from automation.models import Run, RunStatus
from builder.models import Role
from ops.models import DependencyFailures
from tests.automation.workflows import chain, graph, node, published, workspace
from tests.builder.factories import make_api_key
from tests.config.servers import uvicorn_server
from tests.conftest import _free_port, wait_until

TOKEN = "dependency-metrics-token"
EVENTS = 100
INTERVAL = 10


def post_event(url: str, key: str, number: int) -> int:
    body = json.dumps(
        {"id": f"ev-{number}", "type": "signup", "contact": {"email": f"c{number}@example.com"}}
    ).encode()
    request = urllib.request.Request(
        f"{url}/api/v1/events",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def redis_failures(url: str) -> float:
    request = urllib.request.Request(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "cairn_dependency_failures_total" and sample.labels == {
                "dependency": "redis"
            }:
                return sample.value
    pytest.fail("no cairn_dependency_failures_total{dependency='redis'} on /metrics")


COUNTED = re.compile(r"(\d+) more failures since the last line")


def accounted(log: str) -> int:
    """Failures the log tells of: one per line about Redis, plus the counts in them."""
    lines = [line for line in log.splitlines() if line.startswith("redis ")]
    return len(lines) + sum(int(n) for n in COUNTED.findall(log))


@pytest.mark.django_db(transaction=True)
def test_a_web_process_with_redis_down_logs_a_few_counted_lines_and_counts_every_failure(
    tmp_path,
):
    _key, raw = make_api_key(workspace(), Role.EDITOR)
    nothing_listens = _free_port()
    # Counts another process of the session may have left (a fault test).
    DependencyFailures.objects.all().delete()

    with uvicorn_server(
        tmp_path,
        REDIS_URL=f"redis://127.0.0.1:{nothing_listens}/0",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{nothing_listens}/0",
        EVENT_INTAKE="queued",
        DEPENDENCY_LOG_SECONDS=str(INTERVAL),
        METRICS_TOKEN=TOKEN,
        API_KEY_CACHE_SECONDS="3600",
    ) as server:
        # Each stored event kicks the drain through Redis; all are stored (202).
        statuses = [post_event(server.url, raw, n) for n in range(EVENTS)]
        time.sleep(INTERVAL + 0.5)  # the next failure writes the count line
        statuses.append(post_event(server.url, raw, EVENTS))
        # The events' kicks, and the throttle of wrong keys reading Redis once
        # when the key was first looked up.
        failures = EVENTS + 1 + 1
        log_file = next(tmp_path.glob("uvicorn-*.log"))
        # The last failure came after the interval: it wrote a line with the
        # count since the line before, so every failure is in the log's lines.
        wait_until(
            lambda: accounted(log_file.read_text()) == failures,
            what="every failure in a line or in a line's count",
        )
        log = log_file.read_text()

        scrapes = 0

        def all_counted() -> bool:
            nonlocal scrapes
            scrapes += 1  # each scrape fails to read the queue depths: one more
            return redis_failures(server.url) - scrapes == failures

        wait_until(all_counted, what="every Redis failure counted in the metric")

    assert statuses == [202] * (EVENTS + 1)
    lines = [line for line in log.splitlines() if line.startswith("redis ")]
    assert "Traceback" not in log
    assert 2 <= len(lines) <= 4, lines
    assert lines[0].startswith("redis failing: ")
    assert "Connection refused" in lines[0]
    assert f"logged at most every {INTERVAL} s" in lines[0]
    assert len(COUNTED.findall(log)) == len(lines) - 1


@pytest.mark.django_db(transaction=True)
def test_runs_that_cannot_be_queued_are_left_to_the_lost_message_check_not_a_500(tmp_path):
    # Before, the inline intake answered 500 for events it had stored and
    # enrolled: the hand-off to Celery raised after the commit.
    ws = workspace()
    start = node("start", "trigger.event", event="signup")
    later = node("later", "wait.delay", amount=1, unit="days")
    published(graph([start, later], chain(start, later)), ws=ws)
    _key, raw = make_api_key(ws, Role.EDITOR)
    nothing_listens = _free_port()

    with uvicorn_server(
        tmp_path,
        REDIS_URL=f"redis://127.0.0.1:{nothing_listens}/0",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{nothing_listens}/0",
        EVENT_INTAKE="inline",
    ) as server:
        statuses = [post_event(server.url, raw, n) for n in range(3)]
        log = next(tmp_path.glob("uvicorn-*.log")).read_text()

    assert statuses == [202, 202, 202]
    runs = Run.objects.all()
    assert runs.count() == 3
    # Stored as queued: beat's lost-message check queues them once Redis answers.
    assert all(run.status == RunStatus.RUNNING and run.queued_at for run in runs)
    assert "Traceback" not in log
    assert "Internal Server Error" not in log
    # One line (the first Redis failure: the key's throttle read); the rest counted.
    assert len([line for line in log.splitlines() if line.startswith("redis ")]) == 1
