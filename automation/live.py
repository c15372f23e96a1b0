"""Live updates: what the engine tells WebSocket watchers, without ever waiting for them.

The engine calls `publish_*` after a commit. Messages go into a bounded
in-process queue; one daemon thread per process sends them to the channel
layer (channels-redis in production, the in-memory layer embedded). A slow or
absent layer can only make the queue overflow, and then messages are dropped
and counted: a step never blocks or fails because of a watcher. Watchers
recover what they missed from the database (snapshots), so a dropped message
costs a refresh, never a wrong picture.
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


def workflow_group(workflow_id) -> str:
    """Watchers of a published workflow (counts and recent runs)."""
    return f"workflow.{workflow_id}"


def preview_group(run_id) -> str:
    """Watchers of one preview run."""
    return f"preview.{run_id}"


class Publisher:
    def __init__(self, size: int = QUEUE_SIZE, *, autostart: bool = True):
        self.autostart = autostart
        self.queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue(maxsize=size)
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
        """Hand a message over; returns at once, whatever the layer does."""
        self._ensure_thread()
        try:
            self.queue.put_nowait((group, message))
        except queue.Full:
            self.dropped += 1

    def _ensure_thread(self) -> None:
        if not self.autostart or (self._thread is not None and self._thread.is_alive()):
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="cairn-live", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        own_loop = asyncio.new_event_loop()
        while True:
            group, message = self.queue.get()
            if layer is None:
                continue
            send = asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT_SECONDS)
            try:
                server_loop = self._server_loop
                if server_loop is not None and server_loop.is_running():
                    asyncio.run_coroutine_threadsafe(send, server_loop).result(
                        SEND_TIMEOUT_SECONDS + 1
                    )
                else:
                    own_loop.run_until_complete(send)
                self.sent += 1
            except Exception:  # a watcher's layer must never take the engine down
                self.dropped += 1
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


def step_message(run, step) -> dict[str, Any]:
    """One step as watchers see it. `seq` numbers a run's steps without gaps."""
    return {
        "type": "run.step",
        "run": str(run.pk),
        "workflow": str(run.workflow_id),
        "contact": run.contact_id,
        "run_status": run.status,
        "current_node": run.current_node,
        "seq": step.seq,
        "node_id": step.node_id,
        "node_type": step.node_type,
        "status": step.status,
        "handle": step.handle,
        "error": step.error,
        "at": (step.finished_at or step.started_at).isoformat()
        if (step.finished_at or step.started_at)
        else None,
    }


def publish_step(run, step, *, output: bool = False) -> None:
    """After commit: a step of a run changed. Previews carry the step's output too."""
    message = step_message(run, step)
    if run.is_preview:
        message["output"] = step.output
        publisher.publish(preview_group(run.pk), message)
    else:
        publisher.publish(workflow_group(run.workflow_id), message)


def publish_run(run) -> None:
    """After commit: a run changed status without a step (cancelled, exited, held)."""
    message = {
        "type": "run.status",
        "run": str(run.pk),
        "workflow": str(run.workflow_id),
        "run_status": run.status,
        "current_node": run.current_node,
        "error": run.error,
    }
    group = preview_group(run.pk) if run.is_preview else workflow_group(run.workflow_id)
    publisher.publish(group, message)
