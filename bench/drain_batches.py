"""What a drain batch costs: worker CPU per event against the batch size.

Stores pending events for the peer workflow (trigger → if → update contact
→ end) `size` at a time and drains each group as a drain that has caught up
with a stream does (a batch that is not full: it starts the runs it enrols
itself, engine.start_enrolled), in one process. Prints the drain's CPU
milliseconds per event, execution included. Needs the database
bench/peer.py leaves behind (`cairn_bench`, with the peer workflow
published).

Usage: .venv/bin/python bench/drain_batches.py [--events 1000] [--sizes 1,5,20,100,500]
"""

from __future__ import annotations

import argparse
import time
import uuid

from peer_database import use_peer_database

use_peer_database()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--sizes", default="1,5,20,100,500")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.utils import timezone

    from automation import pending_events
    from automation.ingest import ContactRef, IncomingEvent
    from automation.models import Run, RunStatus
    from builder.models import Workspace

    workspace = Workspace.objects.get(slug="default")
    settings.EVENT_DRAIN_DELAY = 0  # no gathering pause: CPU is what is measured
    pending_events.drain(seconds=600)  # whatever an earlier run left
    print(f"{'batch':>6} {'events':>7} {'cpu ms/event':>13} {'runs completed':>15}")
    for size in (int(s) for s in args.sizes.split(",")):
        before = Run.objects.filter(status=RunStatus.COMPLETED).count()
        cpu, drained = 0.0, 0
        for _ in range(max(1, args.events // size)):
            events = [
                IncomingEvent(
                    type="bench",
                    contact=ContactRef(email=f"drain-{uuid.uuid4().hex[:12]}@example.test"),
                    data={"score": n % 101},
                    occurred_at=timezone.now(),
                    client_id=f"drain-{uuid.uuid4()}",
                )
                for n in range(size)
            ]
            pending_events.store_events(workspace.pk, events)
            began = time.process_time()
            drained += pending_events.drain(seconds=600, batch=size + 1).ingested
            cpu += time.process_time() - began
        completed = Run.objects.filter(status=RunStatus.COMPLETED).count() - before
        print(f"{size:>6} {drained:>7} {1000 * cpu / drained:>13.2f} {completed:>15}")


if __name__ == "__main__":
    main()
