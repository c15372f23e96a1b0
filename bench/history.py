"""Does matching waits and exits cost more as history grows?

On a scratch database (`cairn_bench_history`, created and migrated here), it
fills the events table to each size in `--sizes` (contacts with a history of
`page_view` events each, inserted in SQL) and, at each size, times:

- **wait**: a run that loops through a `wait.event` ten times, taking ten
  events stored after it enrolled (automation/awaited.py, `take_stored`),
  for a contact with a long history of the same event type before it;
- **loop lap**: the same, per lap;
- **arrive**: ingest of one event for a contact whose run waits for it
  (the event path's `take_arrived`, then the wake);
- **stranded**: the `cairn_runs_stranded` metric's queries.

Prints milliseconds per operation (median of `--repeat`). A figure that
grows with the table is a query that scans history.

Usage: .venv/bin/python bench/history.py [--sizes 10000,1000000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cairn_bench_history"
CONTACTS = 1000  # the history is spread over this many contacts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    setup_environment()
    import django

    django.setup()
    fresh_database()
    from automation.models import Event

    print(f"{'events':>10} {'10 laps ms':>11} {'lap ms':>7} {'arrive ms':>10} {'stranded ms':>12}")
    for size in (int(s) for s in args.sizes.split(",")):
        grow_history(size - Event.objects.count())
        wait, lap, arrive, stranded = measure(args.repeat)
        print(f"{size:>10,} {wait:>11.2f} {lap:>7.2f} {arrive:>10.2f} {stranded:>12.2f}")


def setup_environment() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
            "REDIS_URL": "redis://127.0.0.1:6379/12",
            "CAIRN_EXECUTION": "celery",
            "EVENT_INTAKE": "inline",
            "LOG_LEVEL": "WARNING",
            "CAIRN_ENV_FILE": "/dev/null",
            "SECRET_KEY": "bench-history-" + "x" * 60,
            "CONNECTION_ENCRYPTION_KEYS": "ZmFrZS1rZXktZm9yLXRoZS1iZW5jaC1vbmx5LTMyYnk=",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def fresh_database() -> None:
    for sql in (f"DROP DATABASE IF EXISTS {DATABASE}", f"CREATE DATABASE {DATABASE}"):
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True, cwd=ROOT
        )
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def grow_history(count: int) -> None:
    """`count` more page_view events, spread over CONTACTS contacts, numbered per contact."""
    from django.db import connection

    from automation.models import Contact
    from builder.models import Workspace

    if count <= 0:
        return
    workspace, _ = Workspace.objects.get_or_create(slug="history", defaults={"name": "History"})
    if not Contact.objects.exists():
        Contact.objects.bulk_create(
            Contact(workspace=workspace, email=f"c{n}@history.test") for n in range(CONTACTS)
        )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH numbered AS (
                SELECT c.id AS contact_id, c.event_seq + g AS seq
                FROM automation_contact c, generate_series(1, %s) AS g
                WHERE c.workspace_id = %s
            )
            INSERT INTO automation_event
                (id, workspace_id, type, contact_id, data, occurred_at, received_at, seq)
            SELECT gen_random_uuid(), %s, 'page_view', contact_id, '{}', now(), now(), seq
            FROM numbered
            """,
            [count // CONTACTS, workspace.pk, workspace.pk],
        )
        cursor.execute(
            "UPDATE automation_contact SET event_seq = event_seq + %s WHERE workspace_id = %s",
            [count // CONTACTS, workspace.pk],
        )
        cursor.execute("ANALYZE")


def measure(repeat: int) -> tuple[float, float, float, float]:
    from django.utils import timezone

    from automation import stranded
    from automation.engine import advance_run
    from automation.ingest import ContactRef, IncomingEvent, ingest_events
    from automation.models import Contact, Run
    from builder import services
    from builder.models import Workspace

    workspace = Workspace.objects.get(slug="history")
    workflow = services.create_workflow(
        workspace,
        name=f"Loop {time.monotonic()}",
        graph={
            "nodes": [
                node("start", "trigger.event", event="signup"),
                node(
                    "wait", "wait.event", event="page_view", timeout={"amount": 3, "unit": "days"}
                ),
                node("tag", "action.tag", add=["seen"]),
                node("done", "flow.end"),
            ],
            "edges": [
                edge("start", "wait"),
                edge("wait", "tag", "received"),
                edge("tag", "wait"),
                edge("wait", "done", "timeout"),
            ],
            "settings": {"reenrollment": "always"},
        },
    )
    services.publish(workflow)
    contacts = list(Contact.objects.filter(workspace=workspace).order_by("pk")[:repeat])

    def send(contact: Contact, kind: str, count: int = 1) -> None:
        ingest_events(
            workspace.pk,
            [
                IncomingEvent(
                    type=kind,
                    contact=ContactRef(email=contact.email),
                    data={},
                    occurred_at=timezone.now(),
                )
                for _ in range(count)
            ],
        )

    waits, laps, arrivals = [], [], []
    for contact in contacts:
        send(contact, "signup")
        run = Run.objects.filter(contact=contact, workflow=workflow).latest("created_at")
        send(contact, "page_view", LAPS)  # after the enrolment, before the run reaches the wait
        started = time.perf_counter()
        advance_run(run.pk)  # LAPS laps through the wait, then it waits
        elapsed = (time.perf_counter() - started) * 1000
        assert run.steps.filter(node_id="tag").count() == LAPS
        waits.append(elapsed)
        laps.append(elapsed / LAPS)
        started = time.perf_counter()
        send(contact, "page_view")  # wakes the waiting run (the event path)
        arrivals.append((time.perf_counter() - started) * 1000)
        Run.objects.filter(pk=run.pk).delete()

    counts = []
    for _ in range(repeat):
        started = time.perf_counter()
        stranded.counts()
        counts.append((time.perf_counter() - started) * 1000)
    return (
        statistics.median(waits),
        statistics.median(laps),
        statistics.median(arrivals),
        statistics.median(counts),
    )


LAPS = 10


def node(node_id: str, type_: str, **config) -> dict:
    return {"id": node_id, "type": type_, "position": {"x": 0, "y": 0}, "data": {"config": config}}


def edge(source: str, target: str, handle: str | None = None) -> dict:
    found = {"id": f"{source}-{target}-{handle}", "source": source, "target": target}
    if handle:
        found["sourceHandle"] = handle
    return found


if __name__ == "__main__":
    main()
