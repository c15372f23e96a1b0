"""A worker's leases on the runs it works on (transitions.take, renew, requeue).

A lapsed lease is how a dead worker is found (timers.reap_stale_runs), so a
live worker must keep renewing while it works, however long a call takes.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import DatabaseError, connection

from . import transitions

log = logging.getLogger("cairn.leases")


class Leases:
    """Renews the leases of the runs a worker is working on, while it does.

    A background thread (its own database connection) renews every quarter
    lease, through a long outside call too, so the reaper never declares a
    call lost that is still being made; a run the worker is done with drops
    out. Used by whatever executes runs (automation/tasks.py, embedded.py),
    not by the engine.
    """

    def __init__(self, run_ids: list[str]) -> None:
        self._left = set(run_ids)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="cairn-leases")

    def __enter__(self) -> Leases:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)  # a renewal stuck on a dead database must not hold the worker

    def done(self, run_id: str) -> None:
        with self._lock:
            self._left.discard(run_id)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(max(0.5, settings.RUN_LEASE_SECONDS / 4)):
                with self._lock:
                    left = list(self._left)
                if left:
                    try:
                        transitions.renew(left)
                    except DatabaseError:
                        log.warning("renewing the leases of %d runs failed", len(left))
                        connection.close()
        finally:
            connection.close()
