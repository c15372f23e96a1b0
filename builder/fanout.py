"""One channel-layer subscription per watched group per web process, fanned out to its sockets.

With channels' usual pattern every socket joins the group itself, so a busy
workflow watched by 200 browsers costs 200 channel-layer messages (and 200
receives, 200 JSON encodings) for every batch. Here the first socket of a
group in this process opens one channel, the batch arrives once, already
encoded, and is written to every local socket; the last socket to leave
closes it. Nothing is kept but who listens here: the truth stays in the
database, and a socket that missed something asks for a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from config import dependency_log

log = logging.getLogger("cairn.live")

Deliver = Callable[[str], Awaitable[None]]
# How often at most a hub refreshes counts for its sockets after activity.
COUNTS_EVERY_SECONDS = 0.5


class Hub:
    def __init__(self, layer, group: str, counts: Callable[[], Awaitable[dict[str, Any]]] | None):
        self.layer = layer
        self.group = group
        self.counts = counts
        self.sockets: set[Deliver] = set()
        self.channel: str | None = None
        self.task: asyncio.Task | None = None
        self.counts_task: asyncio.Task | None = None

    async def start(self) -> None:
        # The default prefix: channels-redis receives all of a process's specific
        # channels through one shared loop, keyed by it.
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self.task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        for task in (self.task, self.counts_task):
            if task is not None:
                task.cancel()
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(self.group, self.channel)

    async def _listen(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                dependency_log.failed("redis", "live updates: channel layer receive failed", error)
                await asyncio.sleep(1)
                continue
            text = message.get("text")
            if text:
                await self.broadcast(text)
                self._schedule_counts()

    async def broadcast(self, text: str) -> None:
        for deliver in list(self.sockets):
            try:
                await deliver(text)
            except Exception:  # one closed socket must not starve the others
                self.sockets.discard(deliver)

    def _schedule_counts(self) -> None:
        if self.counts is None or (self.counts_task is not None and not self.counts_task.done()):
            return
        self.counts_task = asyncio.create_task(self._send_counts())

    async def _send_counts(self) -> None:
        await asyncio.sleep(COUNTS_EVERY_SECONDS)
        results = await self.counts()
        await self.broadcast(json.dumps({"type": "counts", "results": results}))


class _Registry:
    """The hubs of one event loop (a server has one; tests may run several)."""

    def __init__(self):
        self.lock = asyncio.Lock()
        self.hubs: dict[str, Hub] = {}


_registries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Registry] = (
    weakref.WeakKeyDictionary()
)


def _registry() -> _Registry:
    loop = asyncio.get_running_loop()
    registry = _registries.get(loop)
    if registry is None:
        registry = _registries[loop] = _Registry()
    return registry


async def join(layer, group: str, deliver: Deliver, counts=None) -> None:
    registry = _registry()
    async with registry.lock:
        hub = registry.hubs.get(group)
        if hub is None:
            hub = Hub(layer, group, counts)
            await hub.start()
            registry.hubs[group] = hub
        hub.sockets.add(deliver)


async def leave(group: str, deliver: Deliver) -> None:
    registry = _registry()
    async with registry.lock:
        hub = registry.hubs.get(group)
        if hub is None:
            return
        hub.sockets.discard(deliver)
        if not hub.sockets:
            del registry.hubs[group]
            await hub.stop()
