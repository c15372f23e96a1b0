"""In-process execution for the embedded default (`make run` with nothing configured).

One background thread runs the same `engine.advance_run` the Celery workers
run, and sweeps timers every second, so waits, retries and schedules work
without Redis. One thread, because SQLite takes one writer at a time. Other
apps add the periodic jobs beat would run for them (`every`).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections

log = logging.getLogger("cairn.embedded")

# (rank, order, job): high-priority runs first, then first come first served.
# A job is a run id to advance, or ("cancel_workflow_runs", workflow id).
_queue: queue.PriorityQueue[tuple[int, int, str | tuple[str, str]]] = queue.PriorityQueue()
_order = itertools.count()
RANK = {"high": 0, "normal": 1, "low": 2}
_started = threading.Event()
_lock = threading.Lock()
SWEEP_INTERVAL_SECONDS = 1.0
REAP_EVERY = 5
SLOW_SWEEP_EVERY = 15


# Periodic jobs other apps add from their AppConfig.ready() (products/ adds its
# metrics refresh, escalation raises and product schedules): what beat sends
# to Celery workers in the production shape, run on this thread between runs.
# [interval in seconds, job, when it is due next (time.monotonic())]
_periodic: list[list] = []


def every(seconds: float, job: Callable[[], object]) -> None:
    """Run `job` on the executor thread every `seconds` (at most once a sweep, 1 s)."""
    _periodic.append([float(seconds), job, 0.0])


def _run_periodic() -> None:
    for entry in _periodic:
        seconds, job, due = entry
        if time.monotonic() < due:
            continue
        entry[2] = time.monotonic() + seconds
        try:
            job()
        except Exception:
            log.exception("embedded executor: periodic job %r failed", job)
        finally:
            close_old_connections()


def submit(run_ids: list[str], priority: str = "normal") -> None:
    """Advance these runs, after every run of a higher priority already queued."""
    rank = RANK.get(priority, RANK["normal"])
    for run_id in run_ids:
        _queue.put((rank, next(_order), run_id))


# Runs the in-memory queue holds before the sweep stops queueing released runs.
QUEUE_BOUND = 2000


def room(_priority: str) -> int:
    return max(0, QUEUE_BOUND - _queue.qsize())


def submit_cleanup(workflow_id: str) -> None:
    """Cancel an archived workflow's runs (runs.cancel_workflow_runs) on the executor."""
    _queue.put((RANK["normal"], next(_order), ("cancel_workflow_runs", workflow_id)))


def start() -> None:
    """Start the executor thread once per process."""
    with _lock:
        if _started.is_set():
            return
        _started.set()
        threading.Thread(target=_loop, name="cairn-embedded-executor", daemon=True).start()
        log.info("embedded executor started: runs execute in this process")


def _loop() -> None:
    from django.utils import timezone

    from . import engine, runs, schedules, timers
    from .leases import Leases

    # Runs queued before this process started had their place in the last
    # process's queue, in memory: queue them again.
    started_at = timezone.now()
    try:
        timers.requeue_lost_messages(None, started_at)
    except Exception:
        log.exception("embedded executor: queueing the runs of the last process failed")
    next_sweep = 0.0
    ticks = 0
    while True:
        timeout = max(0.0, next_sweep - time.monotonic())
        try:
            _rank, _seq, run_id = _queue.get(timeout=timeout)
        except queue.Empty:
            run_id = None
        try:
            if isinstance(run_id, tuple):
                runs.cancel_workflow_runs(run_id[1])
            elif run_id is not None:
                with Leases([run_id]):
                    engine.advance_run(run_id)
            if time.monotonic() >= next_sweep:
                ticks += 1
                timers.sweep_due_runs()
                if ticks % REAP_EVERY == 0:
                    timers.reap_stale_runs()
                if ticks % SLOW_SWEEP_EVERY == 0:
                    schedules.fire_due_schedules()
                if ticks % (SLOW_SWEEP_EVERY * 20) == 0:
                    schedules.enrol_inactive_contacts()
                _run_periodic()
                next_sweep = time.monotonic() + SWEEP_INTERVAL_SECONDS
        except Exception:
            log.exception("embedded executor: a job failed; the reaper will pick the run up")
        finally:
            close_old_connections()
