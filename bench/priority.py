"""Priority queues: how long a high-priority run waits behind a low-priority backlog.

Starts a Celery worker (2 processes, consuming high,normal,low as the
Procfile does) against a scratch PostgreSQL database and Redis, queues a
backlog of low-priority runs (10,000 by default), and while the worker is
busy with it, sends events that each enrol a contact in a high-priority
workflow. Prints, for those high-priority runs, the time from the event's
POST-equivalent (ingest) to the start of the run's first step, the backlog
still queued when each started, and how long the same run would have waited
at the back of one shared queue (the backlog ahead of it / the measured
drain rate).

Usage: .venv/bin/python bench/priority.py [--backlog 10000] [--samples 10]
Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "cairn_bench_priority"


def tag_flow(event: str, tag: str) -> dict:
    return {
        "nodes": [
            {"id": "start", "type": "trigger.event", "position": {"x": 0, "y": 0},
             "data": {"config": {"event": event}}},
            {"id": "mark", "type": "action.tag", "position": {"x": 0, "y": 120},
             "data": {"config": {"add": [tag]}}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "mark"}],
        "settings": {"reenrollment": "always"},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
        "CAIRN_EXECUTION": "celery",
        "LOG_LEVEL": "WARNING",
    }
    _reset(env, args.redis_db)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    logs = ROOT / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker",
         "-Q", "housekeeping,high,normal,low",
         "--concurrency=2", "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=open(logs / "priority-worker.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _measure(args.backlog, args.samples)
    finally:
        from config.celery import app

        app.control.purge()
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def _measure(backlog: int, samples: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from automation.dispatch import enqueue_runs
    from automation.ingest import ContactRef, IncomingEvent, ingest_events
    from automation.models import Contact, Run, Step
    from builder import services
    from builder.models import Workspace
    from config.celery import app

    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if time.monotonic() > deadline:
            sys.exit("the worker did not start (bench/results/priority-worker.log)")

    ws = Workspace.objects.create(name="Bench", slug="bench")
    low = services.create_workflow(ws, name="Bulk import", graph=tag_flow("import", "imported"))
    services.publish(low)
    services.update_workflow(low, priority="low")
    high = services.create_workflow(ws, name="Password reset", graph=tag_flow("reset", "reset"))
    services.publish(high)
    services.update_workflow(high, priority="high")

    contacts = Contact.objects.bulk_create(
        Contact(workspace=ws, email=f"backlog{n}@example.com") for n in range(backlog)
    )
    version = low.latest_version
    lease = timezone.now() + timedelta(hours=1)
    with transaction.atomic():
        runs = Run.objects.bulk_create(
            Run(workspace=ws, workflow=low, version=version, contact=contact,
                trigger_node="start", current_node="start", lease_until=lease)
            for contact in contacts
        )  # fmt: skip
        enqueue_runs(run.pk for run in runs)
    queued_at = time.monotonic()
    while not Step.objects.filter(run__workflow=low).exists():
        time.sleep(0.05)

    waits, ahead = [], []
    for n in range(samples):
        time.sleep(1.0)
        sent = timezone.now()
        ingest_events(
            ws.pk,
            [IncomingEvent(type="reset", contact=ContactRef(email=f"user{n}@example.com"),
                           data={}, occurred_at=sent, client_id=f"reset-{n}")],
        )  # fmt: skip
        run = Run.objects.get(workflow=high, contact__email=f"user{n}@example.com")
        while (first := run.steps.order_by("seq").first()) is None:
            time.sleep(0.005)
        waits.append((first.started_at - sent).total_seconds())
        started = Step.objects.filter(
            run__workflow=low, node_id="start", started_at__lt=first.started_at
        ).count()
        ahead.append(backlog - started)
    done_low = Step.objects.filter(run__workflow=low, node_id="start").count()
    drain_rate = done_low / (time.monotonic() - queued_at)

    waits_ms = sorted(wait * 1000 for wait in waits)
    queues = "housekeeping,high,normal,low"
    print(f"machine: {os.cpu_count()} cores; worker: 2 Celery processes (-Q {queues})")
    print(f"backlog: {backlog:,} low-priority runs queued; {samples} high-priority runs sent")
    print(
        f"high-priority run, event in → first step started: p50 {statistics.median(waits_ms):.0f}"
        f" ms, max {waits_ms[-1]:.0f} ms (each: {', '.join(f'{w:.0f}' for w in waits_ms)} ms)"
    )
    print(
        f"low-priority runs still queued when they started: {min(ahead):,} to {max(ahead):,}; "
        f"the backlog drains at {drain_rate:,.0f} runs/s, so at the back of one shared queue "
        f"the first would have waited ≈ {max(ahead) / drain_rate:,.0f} s"
    )


def _reset(env, redis_db: int) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(["redis-cli", "-n", str(redis_db), "flushdb"], check=True, capture_output=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip


if __name__ == "__main__":
    main()
