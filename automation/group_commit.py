"""Group commit for single events: many concurrent requests, one INSERT.

The fast path of POST /api/v1/events (builder/api/fast_events.py) hands each
validated event to the process's `EventWriter` and answers when the writer
says it is stored. The writer stores on one thread of its own, one batch at a
time: the events that arrive while a batch is being stored wait and go
together in the next. One client alone waits for no one (its event is a
batch of one, stored at once); sixty-four at once cost a few INSERTs and
commits instead of sixty-four. That is how many single requests cost about
what one batch costs.

A batch is one statement (`pending_events.store_many`), so it is stored whole or not
at all. When it fails, each of its events is tried alone, so one that cannot
be stored (its workspace deleted meanwhile) fails its own request and no
other.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from .ingest import IncomingEvent
from .pending_events import store_many

log = logging.getLogger("cairn.intake")

# Events per INSERT at most; more wait for the next one.
MAX_BATCH = 500
# A writer with nothing to write this long gives its connection back to the pool.
IDLE_RELEASE_SECONDS = 5.0

Item = tuple[int, IncomingEvent, asyncio.Future]


class EventWriter:
    """Stores events for one event loop (one web process), batching those that wait."""

    def __init__(self) -> None:
        self._waiting: list[Item] = []
        self._writing = False
        self._task: asyncio.Task | None = None
        self._release: asyncio.TimerHandle | None = None
        # One thread: one database connection, from the process's pool.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-events")

    async def store(self, workspace_id: int, event: IncomingEvent) -> bool:
        """True when stored, False when its id was already received; raises when
        it could not be stored (nothing of it is)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._waiting.append((workspace_id, event, done))
        if not self._writing:
            self._writing = True
            if self._release is not None:
                self._release.cancel()
            # Kept: the loop holds tasks only weakly.
            self._task = loop.create_task(self._write_while_waiting())
        return await done

    async def _write_while_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                items = [(workspace_id, event) for workspace_id, event, _ in batch]
                try:
                    outcomes = await loop.run_in_executor(
                        self._thread, _store_each_alone_if_need_be, items
                    )
                except BaseException:
                    # Cancelled (the server stopping): no request waits for ever.
                    for _, _, done in batch:
                        if not done.done():
                            done.set_exception(RuntimeError("the event writer stopped"))
                    raise
                for (_, _, done), outcome in zip(batch, outcomes, strict=True):
                    if done.done():
                        continue
                    if isinstance(outcome, BaseException):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
        finally:
            self._writing = False
            self._release = loop.call_later(IDLE_RELEASE_SECONDS, self._release_connection)

    def _release_connection(self) -> None:
        if not self._writing:
            # On the writer's thread, after anything it is still doing.
            self._thread.submit(_close_connection)

    async def close(self) -> None:
        """Give the connection back to the pool and stop the thread (tests; a
        process stopping)."""
        if self._release is not None:
            self._release.cancel()
        loop = asyncio.get_running_loop()
        if _writers.get(loop) is self:
            del _writers[loop]  # the loop's next event gets a new writer
        await loop.run_in_executor(self._thread, _close_connection)
        self._thread.shutdown(wait=False)


def _close_connection() -> None:
    # `connection` is per thread: looked up here, on the writer's thread.
    connection.close()


def _store_each_alone_if_need_be(
    items: list[tuple[int, IncomingEvent]],
) -> list[bool | Exception]:
    """Runs on the writer's thread, which keeps its database connection from
    batch to batch (borrowing one from the pool per batch cost a third of a
    single event's time) and lets it go after any failure, so the next
    attempt starts on a fresh one."""
    try:
        return list(store_many(items))
    except Exception as error:
        connection.close()
        if len(items) == 1:
            return [error]
        log.warning("a batch of %s events failed; storing them one by one", len(items))
    outcomes: list[bool | Exception] = []
    for item in items:
        try:
            outcomes.extend(store_many([item]))
        except Exception as error:
            connection.close()
            outcomes.append(error)
    return outcomes


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, EventWriter] = (
    weakref.WeakKeyDictionary()
)


def writer() -> EventWriter:
    """The running event loop's writer."""
    loop = asyncio.get_running_loop()
    found = _writers.get(loop)
    if found is None:
        found = _writers[loop] = EventWriter()
    return found
