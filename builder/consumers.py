"""The canvas's WebSockets: /ws/workflows/{id}/ (monitoring) and /ws/previews/{id}/.

Authenticated by the browser session; a user sees only workflows of
workspaces they belong to. Close codes (docs/api.md, "Live updates"):
4401 without a session, 4403 not (or no longer) a member, 4404 no such
path or id, 4400 a frame that is not a small JSON request.

Access is checked on connect, again on every request the client sends, on a
timer (RECHECK_SECONDS), and at once when a membership is removed or the user
deactivated (builder/watchers.py sends a recheck to the user's sockets). A
socket that lost access closes with 4403 and gets nothing more.

Thin: access and snapshots live in builder/live.py, frames in
builder/frames.py, the per-process fan-out in builder/fanout.py, publishing
in automation/live.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from automation.live import preview_group, publisher, workflow_group

from . import fanout, live
from .frames import BAD_FRAME, BadFrame, parse_request
from .watchers import user_group

UNAUTHENTICATED = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
# How often an open socket re-reads its user's membership, as a backstop to
# the recheck that builder/watchers.py sends on removal.
RECHECK_SECONDS = 5.0


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError):
        return None


class WatchConsumer(AsyncWebsocketConsumer):
    group = ""
    workspace_id = None
    revoked = False
    _recheck_task: asyncio.Task | None = None

    async def refuse(self, code: int, reason: str = "") -> None:
        await self.accept()
        await self.close(code=code, reason=reason or None)

    async def deliver(self, text: str) -> None:
        if not self.revoked:
            await self.send(text_data=text)

    async def send_json(self, content) -> None:
        if not self.revoked:
            await self.send(text_data=json.dumps(content))

    async def join(self, group: str, workspace_id, counts=None) -> None:
        publisher.bind_server_loop(asyncio.get_running_loop())
        await self.accept()
        self.workspace_id = workspace_id
        self.user_id = self.scope["user"].pk
        if self.channel_layer is not None:
            await self.channel_layer.group_add(user_group(self.user_id), self.channel_name)
        self.group = group
        await fanout.join(self.channel_layer, group, self.deliver, counts)
        self._recheck_task = asyncio.create_task(self._recheck_every())

    # ------------------------------------------------------------ access
    async def still_allowed(self) -> bool:
        """Re-read the membership; on loss, stop all output and close with 4403."""
        if self.revoked:
            return False
        if await database_sync_to_async(live.may_watch)(self.user_id, self.workspace_id):
            return True
        self.revoked = True
        await self._leave()
        await self.close(code=FORBIDDEN, reason="no longer a member of this workspace")
        return False

    async def _recheck_every(self) -> None:
        while not self.revoked:
            await asyncio.sleep(RECHECK_SECONDS)
            with contextlib.suppress(Exception):  # a failed read is tried again next time
                await self.still_allowed()

    async def watch_recheck(self, message) -> None:
        """builder/watchers.py: this user's membership changed."""
        await self.still_allowed()

    # ------------------------------------------------------------ requests
    async def receive(self, text_data=None, bytes_data=None):
        if self.workspace_id is None:  # refused: closing already
            return
        try:
            request = parse_request(text_data, bytes_data)
        except BadFrame as error:
            await self.close(code=BAD_FRAME, reason=str(error))
            return
        if not await self.still_allowed():
            return
        await self.handle(request)

    async def handle(self, request: dict) -> None:
        if request["type"] == "snapshot":
            await self.send_snapshot()
        else:
            await self.send_json({"type": "error", "error": "unknown request type"})

    async def send_snapshot(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ leaving
    async def _leave(self) -> None:
        if self._recheck_task is not None and self._recheck_task is not asyncio.current_task():
            self._recheck_task.cancel()
        if self.group:
            group, self.group = self.group, ""
            await fanout.leave(group, self.deliver)
        if self.channel_layer is not None and self.workspace_id is not None:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)

    async def disconnect(self, code):
        await self._leave()


class WorkflowMonitorConsumer(WatchConsumer):
    """Per-node counts and recent runs of one workflow, live."""

    async def connect(self):
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            return await self.refuse(UNAUTHENTICATED)
        workflow_id = _uuid(self.scope["url_route"]["kwargs"]["workflow_id"])
        if workflow_id is None:
            return await self.refuse(NOT_FOUND)
        self.workflow_id = workflow_id
        workflow = await database_sync_to_async(live.watchable_workflow)(user, workflow_id)
        if workflow is None:
            return await self.refuse(FORBIDDEN)
        await self.join(
            workflow_group(workflow_id),
            workflow.workspace_id,
            counts=lambda: database_sync_to_async(live.cached_results)(workflow_id),
        )
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        await self.send_json(await database_sync_to_async(live.monitor_snapshot)(self.workflow_id))


class PreviewConsumer(WatchConsumer):
    """Each step of one preview run as it happens; a snapshot on connect and on request."""

    async def connect(self):
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            return await self.refuse(UNAUTHENTICATED)
        run_id = _uuid(self.scope["url_route"]["kwargs"]["run_id"])
        if run_id is None:
            return await self.refuse(NOT_FOUND)
        self.run_id = run_id
        run = await database_sync_to_async(live.watchable_preview)(user, run_id)
        if run is None:
            return await self.refuse(FORBIDDEN)
        # Join first, then read the snapshot: a step committed in between is
        # in the snapshot and arrives live too (seq makes that harmless).
        # A client that sees a gap in `seq` asks for the whole preview again.
        await self.join(preview_group(run_id), run.workspace_id)
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        await self.send_json(await database_sync_to_async(live.preview_snapshot)(self.run_id))


class NotFoundConsumer(AsyncWebsocketConsumer):
    """Any other /ws/ path (or an id that is not one): closed with 4404, never a 500."""

    async def connect(self):
        await self.accept()
        await self.close(code=NOT_FOUND, reason="no such live view")
