"""Fault injection on the real worker: kill -9 mid-call, several times.

Invariants, after workers are killed while making outside calls:
- every run reaches its end (none is left `running` or lost);
- no node visit has two Step rows;
- every webhook arrived at least once per visit, and its repeats carry the
  same idempotency key;
- nothing that succeeded is marked failed.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import time

import pytest

from automation.models import Run, RunStatus, Step
from tests.automation.workflows import chain, graph, node, published, send
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

CONTACTS = 40
KILLS = 3


def callers(port: int) -> set[int]:
    output = subprocess.run(
        ["ss", "-tnpH", f"dport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return {int(pid) for pid in re.findall(r"pid=(\d+)", output)}


def test_runs_survive_workers_killed_mid_call(http_target):
    for _ in range(CONTACTS * 3):
        http_target.answer(delay=0.4)
    start = node("start", "trigger.event", event="signup")
    hook = node("hook", "action.webhook", method="POST", url=f"{http_target.url}/sink")
    pause = node("pause", "wait.delay", amount=1, unit="seconds")
    done = node("done", "action.tag", add=["done"])
    published(graph([start, hook, pause, done], chain(start, hook, pause, done)))
    for n in range(CONTACTS):
        send("signup", f"c{n}@example.com")
    port = int(http_target.url.rsplit(":", 1)[1])

    killed = 0
    deadline = time.monotonic() + 60
    while killed < KILLS and time.monotonic() < deadline:
        pids = callers(port)
        if pids:
            os.kill(pids.pop(), signal.SIGKILL)
            killed += 1
            time.sleep(1.0)
        else:
            time.sleep(0.05)
    assert killed == KILLS, "no call was in flight to interrupt"

    wait_until(
        lambda: Run.objects.filter(status=RunStatus.COMPLETED).count() == CONTACTS,
        timeout=120,
        interval=0.5,
        what="every run completes after the kills "
        f"({dict(collections.Counter(Run.objects.values_list('status', flat=True)))})",
    )
    visits = collections.Counter(Step.objects.values_list("run_id", "node_id"))
    assert max(visits.values()) == 1  # one row per visit
    assert Step.objects.count() == CONTACTS * 4
    assert not Step.objects.filter(status="failed").exists()
    keys = collections.Counter(r["headers"]["idempotency-key"] for r in http_target.requests)
    hook_steps = Step.objects.filter(node_id="hook")
    assert set(keys) == {f"{step.run_id}:{step.seq}" for step in hook_steps}
    # Only the interrupted visits were called more than once.
    assert sum(keys.values()) - CONTACTS <= KILLS * 2
