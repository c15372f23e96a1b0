"""One Redis client (and connection pool) per URL per process, made when first needed.

redis-py's pool notices a fork and opens new connections in the child, so
a client made before Celery forks its pool is safe to use after.
"""

from __future__ import annotations

from functools import cache

import redis


@cache
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2)
