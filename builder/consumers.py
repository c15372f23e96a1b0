"""The canvas's WebSockets: /ws/workflows/{id}/ (monitoring) and /ws/previews/{id}/.

Authenticated by the browser session; a user sees only workflows of
workspaces they belong to (close code 4403; 4401 without a session). Thin:
access and snapshots live in builder/live.py, publishing in automation/live.py.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from automation.live import preview_group, publisher, workflow_group

from . import live

UNAUTHENTICATED = 4401
FORBIDDEN = 4403
# Counts are pushed at most this often, however fast runs go.
COUNTS_EVERY_SECONDS = 0.5


class WatchConsumer(AsyncJsonWebsocketConsumer):
    group = ""

    async def refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def join(self, group: str) -> None:
        publisher.bind_server_loop(asyncio.get_running_loop())
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)


class WorkflowMonitorConsumer(WatchConsumer):
    """Per-node counts and recent runs of one workflow, live."""

    async def connect(self):
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            return await self.refuse(UNAUTHENTICATED)
        self.workflow_id = self.scope["url_route"]["kwargs"]["workflow_id"]
        workflow = await database_sync_to_async(live.watchable_workflow)(user, self.workflow_id)
        if workflow is None:
            return await self.refuse(FORBIDDEN)
        self.counts_task: asyncio.Task | None = None
        await self.join(workflow_group(self.workflow_id))
        await self.send_json(await database_sync_to_async(live.monitor_snapshot)(self.workflow_id))

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "snapshot":
            snapshot = await database_sync_to_async(live.monitor_snapshot)(self.workflow_id)
            await self.send_json(snapshot)

    async def run_batch(self, event):
        await self.send_json({"type": "events", "events": event["events"]})
        self.schedule_counts()

    def schedule_counts(self) -> None:
        if self.counts_task is None or self.counts_task.done():
            self.counts_task = asyncio.create_task(self.send_counts())

    async def send_counts(self) -> None:
        await asyncio.sleep(COUNTS_EVERY_SECONDS)
        message = await database_sync_to_async(live.counts_message)(self.workflow_id)
        await self.send_json(message)

    async def disconnect(self, code):
        task = getattr(self, "counts_task", None)
        if task is not None:
            task.cancel()
        await super().disconnect(code)


class PreviewConsumer(WatchConsumer):
    """Each step of one preview run as it happens; a snapshot on connect and on request."""

    async def connect(self):
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            return await self.refuse(UNAUTHENTICATED)
        self.run_id = self.scope["url_route"]["kwargs"]["run_id"]
        run = await database_sync_to_async(live.watchable_preview)(user, self.run_id)
        if run is None:
            return await self.refuse(FORBIDDEN)
        await self.join(preview_group(self.run_id))
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        await self.send_json(await database_sync_to_async(live.preview_snapshot)(self.run_id))

    async def receive_json(self, content, **kwargs):
        # A client that sees a gap in `seq` asks for the whole preview again.
        if content.get("type") == "snapshot":
            await self.send_snapshot()

    async def run_batch(self, event):
        await self.send_json({"type": "events", "events": event["events"]})
