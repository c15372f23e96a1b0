"""A failing dependency, logged once per interval with a count and counted for `/metrics`.

Why: with Redis down for 20 s the web processes wrote 49,000 log lines
(2,855 tracebacks): every stored event's drain kick, every live update and
every fan-out receive logged a traceback of the same refused connection.
Call `failed("redis", "queueing the event drain", error)` where such a
failure is handled, instead of logging it. Per process and dependency:

- the first failure is logged, one line, no traceback (a refused connection
  has nothing more to say); the ones after it within DEPENDENCY_LOG_SECONDS
  are only counted, and the first one after the interval logs again with
  that count ("… 1,312 more failures since the last line, 30 s ago");
- `succeeded("redis")` where the dependency answered logs one line when it
  comes back after failures (with the count not yet logged), and costs a
  dictionary lookup otherwise;
- every failure is counted: a thread of the process adds its counts to the
  table of ops.models.DependencyFailures (about once a second), so
  `cairn_dependency_failures_total{dependency="redis"}` is the sum over every
  web process, worker and beat, whichever process is scraped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

log = logging.getLogger("cairn.dependencies")

# Dependencies /metrics always reports (0 until one fails).
KNOWN = ("redis",)
# ops.models.DependencyFailures' table, written here by name: the runtime
# (automation/) reports failures through this module and must not import ops/.
TABLE = "ops_dependencyfailures"
FLUSH_SECONDS = 1.0


@dataclass
class _State:
    failing: bool = False
    logged_at: float = 0.0  # time.monotonic() of the last line
    not_logged: int = 0  # failures since that line
    unstored: int = 0  # failures not yet added to the table
    last_error: str = ""


_lock = threading.Lock()
_states: dict[str, _State] = {}
_flusher: threading.Thread | None = None


def _interval() -> float:
    return float(getattr(settings, "DEPENDENCY_LOG_SECONDS", 30.0))


def _describe(error: BaseException | None) -> str:
    if error is None:
        return ""
    return f"{type(error).__name__}: {error}"[:500]


def failed(dependency: str, doing: str, error: BaseException | None = None) -> None:
    """`dependency` failed while `doing` something: count it, log it if the last
    line about it is older than the interval."""
    now = time.monotonic()
    described = _describe(error)
    with _lock:
        state = _states.setdefault(dependency, _State())
        state.unstored += 1
        state.last_error = described
        if state.failing and now - state.logged_at < _interval():
            state.not_logged += 1
            return
        again, since, not_logged = state.failing, now - state.logged_at, state.not_logged
        state.failing, state.logged_at, state.not_logged = True, now, 0
    _start_flusher()
    if again:
        log.warning(
            "%s still failing: %s (%s); %d more failures since the last line, %.0f s ago",
            dependency,
            doing,
            described,
            not_logged,
            since,
        )
    else:
        log.warning(
            "%s failing: %s (%s); further failures are counted and logged at most every %.0f s",
            dependency,
            doing,
            described,
            _interval(),
        )


def succeeded(dependency: str) -> None:
    """`dependency` answered: if it was failing, say once that it is back."""
    state = _states.get(dependency)
    if state is None or not state.failing:
        return
    with _lock:
        if not state.failing:
            return
        not_logged = state.not_logged
        state.failing, state.not_logged = False, 0
    log.warning(
        "%s answers again; %d failures since the last line about it", dependency, not_logged
    )


def counts() -> dict[str, int]:
    """Failures of this process not yet added to the table (tests, the scrape)."""
    with _lock:
        return {name: state.unstored for name, state in _states.items() if state.unstored}


def flush() -> None:
    """Add this process's counts to the table. From a thread that may use the
    database (never an event loop); counts that cannot be stored are kept."""
    with _lock:
        taken = {
            name: (state.unstored, state.last_error)
            for name, state in _states.items()
            if state.unstored
        }
        for name in taken:
            _states[name].unstored = 0
    if not taken:
        return
    table = connection.ops.quote_name(TABLE)
    try:
        with connection.cursor() as cursor:
            for name, (count, error) in taken.items():
                cursor.execute(
                    f"INSERT INTO {table} (dependency, failures, last_failure_at, last_error) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (dependency) DO UPDATE SET "
                    f"failures = {table}.failures + EXCLUDED.failures, "
                    "last_failure_at = EXCLUDED.last_failure_at, last_error = EXCLUDED.last_error",
                    [name, count, timezone.now(), error],
                )
    except Exception:
        # The database is down too, or not to be used here: keep the counts.
        with _lock:
            for name, (count, _error) in taken.items():
                _states.setdefault(name, _State()).unstored += count
        raise


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        try:
            flush()
        except Exception:
            pass  # kept for the next round; logging it would be the flood again
        finally:
            connections.close_all()  # this thread's connections only: back to the pool


def _start_flusher() -> None:
    global _flusher
    if _flusher is not None and _flusher.is_alive():
        return
    with _lock:
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(
                target=_flush_forever, name="cairn-dependency-log", daemon=True
            )
            _flusher.start()


def _forget_in_child() -> None:
    """A forked process (a Celery pool child) counts and logs for itself."""
    global _lock, _flusher
    _lock = threading.Lock()
    _states.clear()
    _flusher = None


os.register_at_fork(after_in_child=_forget_in_child)
