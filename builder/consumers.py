"""The canvas's WebSockets: /ws/workflows/{id}/ (monitoring) and /ws/previews/{id}/.

Authenticated by the browser session; a user sees only workflows of
workspaces they belong to (close code 4403; 4401 without a session). Thin:
access and snapshots live in builder/live.py, the per-process fan-out in
builder/fanout.py, publishing in automation/live.py.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from automation.live import preview_group, publisher, workflow_group

from . import fanout, live

UNAUTHENTICATED = 4401
FORBIDDEN = 4403


class WatchConsumer(AsyncJsonWebsocketConsumer):
    group = ""

    async def refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def deliver(self, text: str) -> None:
        await self.send(text_data=text)

    async def join(self, group: str, counts=None) -> None:
        publisher.bind_server_loop(asyncio.get_running_loop())
        await self.accept()
        self.group = group
        await fanout.join(self.channel_layer, group, self.deliver, counts)

    async def disconnect(self, code):
        if self.group:
            await fanout.leave(self.group, self.deliver)


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
        workflow_id = self.workflow_id
        await self.join(
            workflow_group(workflow_id),
            counts=lambda: database_sync_to_async(live.cached_results)(workflow_id),
        )
        await self.send_json(await database_sync_to_async(live.monitor_snapshot)(workflow_id))

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "snapshot":
            snapshot = await database_sync_to_async(live.monitor_snapshot)(self.workflow_id)
            await self.send_json(snapshot)


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
        # Join first, then read the snapshot: a step committed in between is
        # in the snapshot and arrives live too (seq makes that harmless).
        await self.join(preview_group(self.run_id))
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        await self.send_json(await database_sync_to_async(live.preview_snapshot)(self.run_id))

    async def receive_json(self, content, **kwargs):
        # A client that sees a gap in `seq` asks for the whole preview again.
        if content.get("type") == "snapshot":
            await self.send_snapshot()
