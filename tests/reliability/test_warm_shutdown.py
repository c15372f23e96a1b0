"""A worker stopped the way honcho and systemd stop it: SIGTERM to its whole group.

Invariant: a stopped worker finishes the step in hand (its outside call is
answered and recorded, once) before it exits; its pool children are not
killed mid-step by the signal that reaches them too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from automation.models import Run, RunStatus, Step, StepStatus
from automation.tasks import advance_runs_task
from tests.automation.workflows import chain, graph, node, published, send
from tests.conftest import ROOT, the_test_database_url, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "cairn-test-warm-shutdown"


@pytest.fixture
def own_worker(tmp_path):
    """A worker of this test's own, on a queue of its own, in a process group of its own."""
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": the_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CAIRN_EXECUTION": "celery",
    }
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", QUEUE,
         "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle",
         f"--hostname=warm-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    wait_until(
        lambda: "ready" in (tmp_path / "worker.log").read_text() or process.poll() is not None,
        timeout=60,
        what="the worker starts",
    )
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


def test_sigterm_to_the_group_lets_the_step_in_hand_finish(own_worker, http_target, settings):
    settings.CAIRN_EXECUTION = "embedded"  # enrolment queues nothing; the test sends it
    http_target.answer(delay=3)
    start = node("start", "trigger.event", event="order_placed")
    hook = node("hook", "action.webhook", method="POST", url=f"{http_target.url}/crm")
    done = node("done", "action.tag", add=["synced"])
    published(graph([start, hook, done], chain(start, hook, done)))
    send("order_placed", "ada@example.com")
    run = Run.objects.get()
    advance_runs_task.apply_async(args=[[str(run.pk)]], queue=QUEUE)
    wait_until(lambda: http_target.requests, what="the call starts")

    os.killpg(own_worker.pid, signal.SIGTERM)  # as honcho stops its processes
    own_worker.wait(timeout=30)

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert Step.objects.get(node_id="hook").status == StepStatus.COMPLETED
    assert len(http_target.requests) == 1
