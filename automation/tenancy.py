"""Workspaces whose runs were slow lately: their runs wait behind everyone else's.

Workspaces are strangers (DESIGN.md, "Tenancy"): one whose templates burn
their whole budget run after run must not fill the queue every other
workspace's runs wait in. When the event drain finds a workspace's runs slow
to start (automation/pending_events.py), it marks the workspace slow for
SLOW_FOR_SECONDS; meanwhile `dispatch.by_priority` sends its runs to the
`low` queue whatever their workflow's priority, so workers take every other
workspace's high and normal runs first, and the drain queues its runs
instead of starting them itself.

The marks live in Redis (a sorted set: workspace → until when), shared by
every process, read at most once a second per process; without Redis (the
embedded default) in this process only. A Redis that cannot be reached
costs the marks, never a run.
"""

from __future__ import annotations

import time

from django.conf import settings
from redis.exceptions import RedisError

from config import dependency_log
from config.redis_clients import redis_client

SLOW_KEY = "cairn:slow-workspaces"
SLOW_FOR_SECONDS = 60.0
CACHE_SECONDS = 1.0

_local: dict[int, float] = {}
_cached_at = -CACHE_SECONDS
_cached: frozenset[int] = frozenset()


def mark_slow(workspace_id: int) -> None:
    """The workspace's runs go behind everyone else's for SLOW_FOR_SECONDS."""
    global _cached_at
    now = time.time()
    until = now + SLOW_FOR_SECONDS
    for known in [w for w, expires in _local.items() if expires <= now]:
        del _local[known]
    _local[workspace_id] = until
    _cached_at = -CACHE_SECONDS
    if settings.REDIS_URL:
        try:
            client = redis_client(settings.REDIS_URL)
            client.zadd(SLOW_KEY, {str(workspace_id): until})
            client.zremrangebyscore(SLOW_KEY, "-inf", now)
        except RedisError as error:  # kept in this process: the mark still works here
            dependency_log.failed("redis", "could not share that a workspace is slow", error)


def slow_workspaces() -> frozenset[int]:
    """The workspaces marked slow (by any process), as of at most a second ago."""
    global _cached_at, _cached
    if time.monotonic() - _cached_at < CACHE_SECONDS:
        return _cached
    now = time.time()
    found = {w for w, until in _local.items() if until > now}
    if settings.REDIS_URL:
        try:
            found.update(
                int(member)
                for member in redis_client(settings.REDIS_URL).zrangebyscore(SLOW_KEY, now, "+inf")
            )
        except RedisError as error:  # this process's own marks still count
            dependency_log.failed("redis", "could not read the slow workspaces", error)
    _cached, _cached_at = frozenset(found), time.monotonic()
    return _cached


def forget() -> None:
    """Clear every mark (tests)."""
    global _cached_at
    _local.clear()
    _cached_at = -CACHE_SECONDS
    if settings.REDIS_URL:
        redis_client(settings.REDIS_URL).delete(SLOW_KEY)
