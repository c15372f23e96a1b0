"""Ride out a lost database connection: reconnect and do the work again.

A worker's connection can be cut under it (PostgreSQL restarted, a failover,
an idle connection killed by a proxy, `pg_terminate_backend`). The work in
hand was one transaction that rolled back, so doing it again on a fresh
connection is safe; leaving it to the reaper would park the run until its
lease lapses. Deadlocks and serialization failures are OperationalErrors
too, and are retried the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger("cairn.reconnect")

T = TypeVar("T")

# Pauses before each new try; then the error goes up to the caller.
BACKOFF_SECONDS = (0.2, 1.0, 3.0)


def reconnecting(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`work(*args, **kwargs)`, tried again on a fresh connection while the connection fails.

    Inside an outer transaction nothing is retried: closing the connection
    would throw away the caller's work too.
    """
    for pause in BACKOFF_SECONDS:
        if connection.in_atomic_block:
            break
        try:
            return work(*args, **kwargs)
        except (OperationalError, InterfaceError) as error:
            log.warning("database error (%s); reconnecting in %.1f s", error, pause)
            connection.close()
            time.sleep(pause)
    return work(*args, **kwargs)
