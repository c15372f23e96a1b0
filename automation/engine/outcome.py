"""What the engine answers when a run stops moving, and which errors are not the run's fault."""

from __future__ import annotations

import logging
from enum import Enum

from billiard.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

log = logging.getLogger("cairn.engine")


NODES_PER_CHUNK = 50


class Outcome(str, Enum):
    CONTINUE = "continue"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    EXITED = "exited"
    HELD = "held"
    CANCELLED = "cancelled"
    NOT_RUNNING = "not_running"
    # Another worker is making this run's outside call right now.
    BUSY = "busy"
    # The chunk committed a running step; the outside call comes next, unlocked.
    CALL = "call"


# Errors that are not the run's fault: the database went away, a deadlock or
# serialization failure, the task ran out of time. The chunk rolled back and
# the run is still `running` at the same node; a redelivery or the reaper
# tries it again. Anything else that escapes a chunk would fail the same way
# every time (a poison run) and fails the run instead.
NOT_THE_RUNS_FAULT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    SoftTimeLimitExceeded,
)
