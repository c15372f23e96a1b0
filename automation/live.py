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
import logging
import queue
import threading
import time
from typing import Any

log = logging.getLogger("cairn.live")

QUEUE_SIZE = 10_000
SEND_TIMEOUT_SECONDS = 2.0
# Messages for one group that arrive within this window travel together.
BATCH_WINDOW_SECONDS = 0.02
BATCH_MAX_EVENTS = 200


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

    def _collect(self) -> dict[str, list[dict[str, Any]]]:
        """One queued item, and whatever joins it within the batch window."""
        group, messages = self.queue.get()
        batches = {group: list(messages)}
        deadline = time.monotonic() + BATCH_WINDOW_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            try:
                group, messages = self.queue.get(timeout=left)
            except queue.Empty:
                break
            batches.setdefault(group, []).extend(messages)
        return batches

    def _run(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        own_loop = asyncio.new_event_loop()
        while True:
            batches = self._collect()
            if layer is None:
                continue
            for group, events in batches.items():
                for start in range(0, len(events), BATCH_MAX_EVENTS):
                    chunk = events[start : start + BATCH_MAX_EVENTS]
                    self._send(layer, own_loop, group, {"type": "run.batch", "events": chunk})

    def _send(self, layer, own_loop, group: str, message: dict[str, Any]) -> None:
        send = asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT_SECONDS)
        try:
            server_loop = self._server_loop
            if server_loop is not None and server_loop.is_running():
                future = asyncio.run_coroutine_threadsafe(send, server_loop)
                future.result(SEND_TIMEOUT_SECONDS + 1)
            else:
                own_loop.run_until_complete(send)
            self.sent += len(message["events"])
        except Exception:  # a watcher's layer must never take the engine down
            self.dropped += len(message["events"])
            log.warning("live update to %s dropped", group, exc_info=True)

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


def step_message(run, step, *, output: bool = False) -> dict[str, Any]:
    """One step as watchers see it. `seq` numbers a run's steps without gaps;
    a step that changes (waiting, then completed) is sent again with its seq."""
    message = {
        "kind": "step",
        "run": str(run.pk),
        "workflow": str(run.workflow_id),
        "contact": run.contact_id,
        "run_status": run.status,
        "current_node": run.current_node,
        "run_error": run.error,
        "seq": step.seq,
        "node_id": step.node_id,
        "node_type": step.node_type,
        "status": step.status,
        "handle": step.handle,
        "error": step.error,
        "attempt": step.attempt,
        "started_at": _iso(step.started_at),
        "finished_at": _iso(step.finished_at),
        "sent_at": time.time(),
    }
    if output:
        message["output"] = step.output
    if run.is_preview:
        message["paused_before"] = run.preview.get("paused_before")
    return message


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


def publish_run(run) -> None:
    """After commit, from outside the engine (cancel, retry, choose): the run changed."""
    group = preview_group(run.pk) if run.is_preview else workflow_group(run.workflow_id)
    publisher.publish(group, run_message(run))
