"""The embedded executor (`make run` with nothing configured) keeps the priority order.

Invariant: its one thread takes queued runs high before normal before low,
first come first served within a priority, as Celery workers do with the
three queues.
"""

from __future__ import annotations

import queue

from automation import embedded


def drain() -> list:
    taken = []
    while True:
        try:
            taken.append(embedded._queue.get_nowait()[2])
        except queue.Empty:
            return taken


def test_high_runs_are_taken_before_normal_and_low_ones_queued_earlier():
    drain()  # jobs other tests queued with no executor thread running
    embedded.submit(["low-1", "low-2"], "low")
    embedded.submit(["normal-1"], "normal")
    embedded.submit_cleanup("workflow-9")
    embedded.submit(["high-1", "high-2"], "high")

    assert drain() == [
        "high-1",
        "high-2",
        "normal-1",
        ("cancel_workflow_runs", "workflow-9"),
        "low-1",
        "low-2",
    ]
