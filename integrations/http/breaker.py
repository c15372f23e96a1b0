"""A circuit breaker per connection: stop calling a service that keeps failing.

After `CIRCUIT_BREAKER_THRESHOLD` transient failures in a row (timeouts,
refused connections, 5xx) the circuit opens for `CIRCUIT_BREAKER_COOLDOWN_SECONDS`:
calls through that connection are not made and the node raises
`CircuitOpen`, which the engine turns into a wait that does not use up an
attempt, so the runs wait instead of failing. When the cooldown ends the
next call is a probe: success closes the circuit, failure opens it again at
once. State lives in the `integrations` cache (Redis in production), shared
by every worker.
"""

from __future__ import annotations

import random
import time

from django.conf import settings
from django.core.cache import caches

from automation.nodes.base import NodeError


class CircuitOpen(NodeError):
    """The service failed too often; nothing was sent and the run waits."""

    counts_as_attempt = False


def _cache():
    return caches["integrations"]


def _threshold() -> int:
    return int(getattr(settings, "CIRCUIT_BREAKER_THRESHOLD", 5))


def _cooldown() -> float:
    return float(getattr(settings, "CIRCUIT_BREAKER_COOLDOWN_SECONDS", 60))


def _keys(key: str) -> tuple[str, str, str]:
    return f"cb:{key}:failures", f"cb:{key}:open_until", f"cb:{key}:probing"


def open_until(key: str) -> float | None:
    _failures, until, _probing = _keys(key)
    value = _cache().get(until)
    return float(value) if value is not None else None


def check(key: str) -> None:
    """Raise CircuitOpen while the circuit for `key` is open."""
    until = open_until(key)
    now = time.time()
    if until is not None and until > now:
        # Spread the waiting runs over a little time so they do not all probe at once.
        wait = (until - now) * (1 + random.uniform(0, 0.2))
        raise CircuitOpen(
            f"{key} failed {_threshold()} times in a row; not calling it for "
            f"{until - now:.0f}s more (circuit breaker)",
            retry_after=wait,
        )


def failure(key: str) -> None:
    cache = _cache()
    failures, until, probing = _keys(key)
    cooldown = _cooldown()
    if cache.get(probing):
        count = _threshold()  # the probe after a cooldown failed: open again at once
    else:
        cache.add(failures, 0, timeout=int(cooldown * 10) + 60)
        try:
            count = cache.incr(failures)
        except ValueError:
            cache.set(failures, 1, timeout=int(cooldown * 10) + 60)
            count = 1
    if count >= _threshold():
        cache.set(until, time.time() + cooldown, timeout=int(cooldown) + 60)
        cache.set(probing, 1, timeout=int(cooldown * 10) + 60)
        cache.delete(failures)


def success(key: str) -> None:
    _cache().delete_many(list(_keys(key)))
