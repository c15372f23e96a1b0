"""Profile the single-event path in one process with pyinstrument.

Needs the database bench/peer.py leaves behind (`cairn_bench`, with the peer
workflow published). Three phases, each printed as pyinstrument's top lines:

1. the request: N single POST /api/v1/events through Django's test client
   (queued intake: store + 202);
2. the drain: automation.pending_events.drain() of those N pending events, in
   batches of `--batch` (EVENT_DRAIN_BATCH by default; a single client's
   stream makes batches of a few events); it starts the runs it enrols
   (engine.start_enrolled), so its figure includes their execution;
3. execution of runs the drain left running (none with the peer workflow,
   unless it is made low-priority): engine.advance_run of each, one by one
   (`run`), or 50 at a time as a worker's message does (`together`:
   transitions.take, then engine.advance_together).

Usage: .venv/bin/python bench/profile.py [--events 500] [--batch 10]
       [--phase request,drain,run|together]
"""

from __future__ import annotations

import argparse
import uuid

from peer_database import use_peer_database

use_peer_database()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--batch", type=int, default=None, help="events per drain batch")
    parser.add_argument("--phase", default="request,drain,run")
    args = parser.parse_args()
    phases = args.phase.split(",")

    import django

    django.setup()
    from django.db import connection
    from pyinstrument import Profiler
    from rest_framework.test import APIClient

    from automation import engine, pending_events, transitions
    from automation.models import PendingEvent, Run, RunStatus
    from builder.models import ApiKey, Workspace

    workspace = Workspace.objects.get(slug="default")
    _key, raw = ApiKey.objects.create_key(workspace, name="profile")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = set(Run.objects.values_list("pk", flat=True))

    def show(title, profiler):
        print(f"\n===== {title} =====")
        print(profiler.output_text(unicode=False, color=False, show_all=False)[:6000])

    if "request" in phases:
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for n in range(args.events):
            response = client.post(
                "/api/v1/events",
                {"id": f"p{uuid.uuid4()}", "type": "bench",
                 "contact": {"email": f"profile{n}@example.test"}, "data": {"score": n % 101}},
                format="json",
            )  # fmt: skip
            assert response.status_code == 202, response.content
        profiler.stop()
        show(f"{args.events} single POST /api/v1/events (queued intake)", profiler)
    if "drain" in phases:
        print("pending:", PendingEvent.objects.count())
        profiler = Profiler(interval=0.0005)
        profiler.start()
        result = pending_events.drain(seconds=600, batch=args.batch)
        profiler.stop()
        batch = args.batch or "default"
        show(f"drain: {result.ingested} events ingested, {batch} a batch", profiler)

    def enrolled_runs() -> list:
        """The runs the drain enrolled, still to run."""
        running = Run.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True)
        return [pk for pk in running if pk not in before]

    if "run" in phases:
        ids = enrolled_runs()
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for run_id in ids:
            engine.advance_run(run_id)
            connection.close()
        profiler.stop()
        show(f"advance_run of {len(ids)} runs", profiler)
    if "together" in phases:
        ids = enrolled_runs()
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for start in range(0, len(ids), 50):
            chunk = ids[start : start + 50]
            transitions.take(chunk)
            engine.advance_together(chunk)
        profiler.stop()
        show(f"advance_together of {len(ids)} runs, 50 at a time", profiler)


if __name__ == "__main__":
    main()
