"""A Celery soft time limit is never taken for a node failing while a template renders.

Invariant: when the task's soft time limit strikes while a template renders
(on a real worker whose limit is short and whose template budget is long),
the exception goes on up to the task: no step is failed with
"SoftTimeLimitExceeded", the run stays running and is taken again by the
engine's rules (the reaper after its lease lapses), and then completes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from automation import timers
from automation.models import Contact, Run, RunStatus, Step, StepStatus
from automation.tasks import advance_runs_task
from tests.automation.workflows import chain, graph, node, published, send
from tests.conftest import ROOT, the_test_database_url, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "cairn-test-template-time-limit"
# Repeats `contact.loops` times, each summing 9,999 numbers: seconds of CPU
# for 100,000 loops, nothing for one.
SLOW = "{% for a in range(contact.loops) %}{{ (range(9999)|sum) and '' }}{% endfor %}done"


@pytest.fixture
def short_limit_worker(tmp_path):
    """A worker of this test's own (its own queue), whose tasks have a 2 s soft
    time limit and whose templates may take a minute: the limit strikes first."""
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": the_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CAIRN_EXECUTION": "celery",
        "CELERY_TASK_SOFT_TIME_LIMIT": "2",
        "CELERY_TASK_TIME_LIMIT": "30",
        "TEMPLATE_MAX_SECONDS": "60",
        "TEMPLATE_MAX_ITERATIONS": "100000000",
        "RUN_LEASE_SECONDS": "2",
    }
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", QUEUE,
         "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle",
         f"--hostname=softlimit-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    wait_until(
        lambda: "ready" in log_path.read_text() or process.poll() is not None,
        timeout=60,
        what="the worker starts",
    )
    process.log_path = log_path
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


def test_a_soft_time_limit_during_a_render_hands_the_run_back(short_limit_worker, settings):
    settings.CAIRN_EXECUTION = "embedded"  # enrolment queues nothing; the test sends it
    start = node("start", "trigger.event", event="signup")
    note = node("note", "action.update_contact", properties={"note": SLOW})
    published(graph([start, note], chain(start, note)))
    send("signup", "ada@example.com", properties={"loops": 100_000})
    run = Run.objects.get()

    advance_runs_task.apply_async(args=[[str(run.pk)]], queue=QUEUE)
    wait_until(
        lambda: "hit the soft time limit" in short_limit_worker.log_path.read_text()
        or Run.objects.get(pk=run.pk).status != RunStatus.RUNNING,
        timeout=60,
        what="the soft time limit strikes",
    )

    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING, run.error
    assert run.error == ""
    assert not Step.objects.filter(run=run, node_id="note").exclude(error="").exists()

    # The engine's rules take it from here: the lease lapses, the reaper
    # queues it again, and the next delivery (a fixed template) completes it.
    Contact.objects.filter(pk=run.contact_id).update(properties={"loops": 1})
    wait_until(
        lambda: Run.objects.filter(pk=run.pk, lease_until__lt=_now()).exists(),
        timeout=30,
        what="the lease lapses",
    )
    timers.reap_stale_runs()
    advance_runs_task.apply_async(args=[[str(run.pk)]], queue=QUEUE)
    wait_until(
        lambda: Run.objects.get(pk=run.pk).status == RunStatus.COMPLETED,
        timeout=60,
        what="the run completes",
    )
    step = Step.objects.get(run=run, node_id="note")
    assert (step.status, step.error) == (StepStatus.COMPLETED, "")
    assert Contact.objects.get(pk=run.contact_id).properties["note"] == "done"


def _now():
    from django.utils import timezone

    return timezone.now()
