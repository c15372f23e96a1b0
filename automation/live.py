"""Live updates: what the engine tells WebSocket watchers, without ever waiting for them.

The engine hands messages over after a commit. They go into a bounded
in-process queue; one daemon thread per process sends them to the channel
layer (channels-redis in production, the in-memory layer embedded), batched
per group over a few milliseconds so that a busy workflow costs watchers a
few messages a second, not one per step. A slow or absent layer can only make
the queue overflow, and then messages are dropped and counted: a step never
blocks or fails because of a watcher. Watchers recover what they missed from
the database (snapshots), so a dropped message costs a refresh, never a wrong
picture.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
from typing import Any

from config import dependency_log

log = logging.getLogger("cairn.live")

QUEUE_SIZE = 10_000
SEND_TIMEOUT_SECONDS = 2.0
# Messages for a group that arrive this close together travel as one.
BATCH_WINDOW_SECONDS = 0.01
# A watched workflow gets at most one message per this interval from each
# process (the first after a quiet spell leaves at once): a busy workflow costs
# its watchers a few messages a second, whatever its step rate. Previews are
# one run, stepped by hand: every step leaves as soon as it commits.
WORKFLOW_MIN_INTERVAL_SECONDS = 0.1
# Watchers of a workflow see counts (from the database) and recent runs; the
# newest events of a batch are enough for the latter.
WORKFLOW_BATCH_MAX_EVENTS = 50


def workflow_group(workflow_id) -> str:
    """Watchers of a published workflow (counts and recent runs)."""
    return f"workflow.{workflow_id}"


def preview_group(run_id) -> str:
    """Watchers of one preview run."""
    return f"preview.{run_id}"


class Publisher:
    def __init__(self, size: int = QUEUE_SIZE, *, autostart: bool = True):
        self.autostart = autostart
        self.queue: queue.Queue[tuple[str, list[dict[str, Any]]]] = queue.Queue(maxsize=size)
        self.dropped = 0
        self.sent = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._server_loop: asyncio.AbstractEventLoop | None = None

    def bind_server_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The web server's event loop, where WebSocket consumers live.

        The in-memory layer (embedded default) only delivers within the loop
        its consumers wait in, so in the web process messages are sent there;
        elsewhere (Celery workers, channels-redis) the thread's own loop does.
        """
        self._server_loop = loop

    def publish(self, group: str, message: dict[str, Any]) -> None:
        self.publish_many(group, [message])

    def publish_many(self, group: str, messages: list[dict[str, Any]]) -> None:
        """Hand messages over; returns at once, whatever the layer does."""
        if not messages:
            return
        self._ensure_thread()
        try:
            self.queue.put_nowait((group, messages))
        except queue.Full:
            self.dropped += len(messages)

    def _ensure_thread(self) -> None:
        if not self.autostart or (self._thread is not None and self._thread.is_alive()):
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="cairn-live", daemon=True)
                self._thread.start()

    def _min_interval(self, group: str) -> float:
        return WORKFLOW_MIN_INTERVAL_SECONDS if group.startswith("workflow.") else 0.0

    def _run(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        own_loop = asyncio.new_event_loop()
        pending: dict[str, list[dict[str, Any]]] = {}
        due: dict[str, float] = {}
        last_sent: dict[str, float] = {}
        while True:
            now = time.monotonic()
            timeout = max(0.0, min(due.values()) - now) if due else None
            try:
                group, messages = self.queue.get(timeout=timeout)
                pending.setdefault(group, []).extend(messages)
                if group not in due:
                    due[group] = max(
                        now + BATCH_WINDOW_SECONDS,
                        last_sent.get(group, 0.0) + self._min_interval(group),
                    )
            except queue.Empty:
                pass
            now = time.monotonic()
            for group in [g for g, at in due.items() if at <= now]:
                del due[group]
                events = pending.pop(group)
                last_sent[group] = now
                if layer is None:
                    continue
                if group.startswith("workflow.") and len(events) > WORKFLOW_BATCH_MAX_EVENTS:
                    skipped = len(events) - WORKFLOW_BATCH_MAX_EVENTS
                    events = events[-WORKFLOW_BATCH_MAX_EVENTS:]
                    self.sent += skipped  # summarised away, not lost: counts come from the DB
                self._send(layer, own_loop, group, events)

    def _send(self, layer, own_loop, group: str, events: list[dict[str, Any]]) -> None:
        # Encoded once here, not once per watcher.
        text = json.dumps({"type": "events", "events": events}, default=str)
        send = asyncio.wait_for(
            layer.group_send(group, {"type": "run.batch", "text": text}), SEND_TIMEOUT_SECONDS
        )
        try:
            server_loop = self._server_loop
            if server_loop is not None and server_loop.is_running():
                future = asyncio.run_coroutine_threadsafe(send, server_loop)
                future.result(SEND_TIMEOUT_SECONDS + 1)
            else:
                own_loop.run_until_complete(send)
            self.sent += len(events)
        except Exception as error:  # a watcher's layer must never take the engine down
            self.dropped += len(events)
            dependency_log.failed("redis", "live updates dropped (channel layer)", error)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every queued message has been handed to the layer (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while not self.queue.empty():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


publisher = Publisher()


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def run_message(run) -> dict[str, Any]:
    """A run that changed without a step (paused before a node, held, cancelled)."""
    message = {
        "kind": "run",
        "run": str(run.pk),
        "workflow": str(run.workflow_id),
        "contact": run.contact_id,
        "run_status": run.status,
        "current_node": run.current_node,
        "run_error": run.error,
        "sent_at": time.time(),
    }
    if run.is_preview:
        message["paused_before"] = run.preview.get("paused_before")
    return message


def step_message(run, step, *, output: bool = False) -> dict[str, Any]:
    """One step as watchers see it, with its run's state. `seq` numbers a run's
    steps without gaps; a step that changes (waiting, then completed) is sent
    again with its seq."""
    message = {
        **run_message(run),
        "kind": "step",
        "seq": step.seq,
        "node_id": step.node_id,
        "node_type": step.node_type,
        "status": step.status,
        "handle": step.handle,
        "error": step.error,
        "attempt": step.attempt,
        "started_at": _iso(step.started_at),
        "finished_at": _iso(step.finished_at),
    }
    if output:
        message["output"] = step.output
    return message


def publish_run(run) -> None:
    """After commit, from outside the engine (cancel, retry, choose): the run changed."""
    group = preview_group(run.pk) if run.is_preview else workflow_group(run.workflow_id)
    publisher.publish(group, run_message(run))
