"""Wrong API keys, counted per client address: past a limit, 429 with Retry-After.

Why: nothing stopped a client from trying keys as fast as it could, each one
a database lookup. An address's first wrong key opens a window of
API_KEY_FAILURE_WINDOW_SECONDS; once it has sent API_KEY_FAILURE_LIMIT wrong
keys in that window, every call from it whose key must be looked up is
refused until the window ends. Counts live in the "throttle" cache: Redis in
the production shape, so every web process shares them; the process's memory
when embedded. A cache that cannot be reached throttles nothing (each such
failure is counted, and logged once per interval: config/dependency_log.py).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import caches
from redis.exceptions import RedisError

from config import dependency_log

PREFIX = "cairn:api-key-failures"


def _keys(address: str) -> tuple[str, str]:
    return f"{PREFIX}:{address}", f"{PREFIX}:{address}:until"


def retry_after(address: str) -> int | None:
    """Seconds until `address` may try keys again, or None if it may now."""
    count_key, until_key = _keys(address)
    try:
        found = caches["throttle"].get_many([count_key, until_key])
    except (RedisError, OSError) as error:
        dependency_log.failed("redis", "API key throttle not checked", error)
        return None
    if found.get(count_key, 0) < settings.API_KEY_FAILURE_LIMIT:
        return None
    return max(1, int(found.get(until_key, 0) - time.time()) + 1)


def failed(address: str) -> None:
    """A wrong key came from `address`."""
    window = settings.API_KEY_FAILURE_WINDOW_SECONDS
    count_key, until_key = _keys(address)
    cache = caches["throttle"]
    try:
        # The first failure opens the window; both keys end with it.
        cache.add(until_key, time.time() + window, timeout=window)
        cache.add(count_key, 0, timeout=window)
        cache.incr(count_key)
    except ValueError:
        pass  # the window ended between add and incr: this failure opens none
    except (RedisError, OSError) as error:
        dependency_log.failed("redis", "API key throttle not counted", error)


def forget(address: str) -> None:
    """Start `address` afresh (an admin lifting a block, tests)."""
    caches["throttle"].delete_many(list(_keys(address)))
