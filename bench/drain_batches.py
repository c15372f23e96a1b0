"""What a drain batch costs: worker CPU per event against the batch size.

Stores N pending events for the peer workflow (trigger → if → update contact
→ end) and drains them in one process, in batches of each size given, the
runs started by the drain as in production (engine.start_enrolled). Prints
CPU and wall milliseconds per event. Needs the database bench/peer.py leaves
behind (`cairn_bench`, with the peer workflow published).

Usage: .venv/bin/python bench/drain_batches.py [--events 1000] [--sizes 1,5,20,100,500]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cairn_bench",
        "REDIS_URL": "redis://127.0.0.1:6379/14",
        "CAIRN_EXECUTION": "celery",
        "EVENT_INTAKE": "queued",
        "LOG_LEVEL": "WARNING",
    }
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--sizes", default="1,5,20,100,500")
    args = parser.parse_args()

    import django

    django.setup()
    from django.utils import timezone

    from automation import intake
    from automation.ingest import ContactRef, IncomingEvent
    from automation.models import PendingEvent
    from builder.models import Workspace

    workspace = Workspace.objects.get(slug="default")
    intake.drain(seconds=600)  # whatever an earlier run left
    print(f"{'batch':>6} {'events':>7} {'cpu ms/event':>13} {'wall ms/event':>14}")
    for size in (int(s) for s in args.sizes.split(",")):
        events = [
            IncomingEvent(
                type="bench",
                contact=ContactRef(email=f"drain-{uuid.uuid4().hex[:12]}@example.test"),
                data={"score": n % 101},
                occurred_at=timezone.now(),
                client_id=f"drain-{uuid.uuid4()}",
            )
            for n in range(args.events)
        ]
        for start in range(0, len(events), 100):
            intake.store_events(workspace.pk, events[start : start + 100])
        cpu, wall = time.process_time(), time.perf_counter()
        drained = 0
        while PendingEvent.objects.exists():
            drained += intake.drain(seconds=600, batch=size).ingested
        cpu_ms = 1000 * (time.process_time() - cpu) / drained
        wall_ms = 1000 * (time.perf_counter() - wall) / drained
        print(f"{size:>6} {drained:>7} {cpu_ms:>13.2f} {wall_ms:>14.2f}")


if __name__ == "__main__":
    main()
