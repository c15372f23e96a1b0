"""The canvas's WebSockets on channels-redis: who may watch, what they receive, snapshots."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from automation.live import publisher, step_message, workflow_group
from automation.models import RunStatus
from builder.consumers import FORBIDDEN, UNAUTHENTICATED
from config.asgi import application
from tests.builder.factories import (
    MembershipFactory,
    RunFactory,
    StepFactory,
    UserFactory,
    WorkspaceFactory,
    published_workflow,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_layer_under_test_is_channels_redis():
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def connect(path: str, cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


@async_to_sync
async def closing_code(path: str, cookie: bytes | None) -> int:
    socket = connect(path, cookie)
    await socket.connect()
    message = await socket.receive_output(timeout=5)
    await socket.disconnect()
    assert message["type"] == "websocket.close", message
    return message["code"]


@pytest.fixture
def member_and_workflow():
    workspace = WorkspaceFactory()
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role="viewer")
    return user, published_workflow(workspace)


def test_no_session_is_refused(member_and_workflow):
    _user, workflow = member_and_workflow
    assert closing_code(f"/ws/workflows/{workflow.pk}/", None) == UNAUTHENTICATED


def test_another_workspace_is_refused(member_and_workflow):
    user, _workflow = member_and_workflow
    elsewhere = published_workflow(WorkspaceFactory())
    run = RunFactory(workflow=elsewhere, is_preview=True)
    assert closing_code(f"/ws/workflows/{elsewhere.pk}/", session_cookie(user)) == FORBIDDEN
    assert closing_code(f"/ws/previews/{run.pk}/", session_cookie(user)) == FORBIDDEN


def test_a_watcher_gets_a_snapshot_then_each_step_then_fresh_counts(member_and_workflow):
    user, workflow = member_and_workflow
    run = RunFactory(workflow=workflow, current_node="start", status=RunStatus.WAITING)
    cookie = session_cookie(user)

    @async_to_sync
    async def watch():
        socket = connect(f"/ws/workflows/{workflow.pk}/", cookie)
        connected, _ = await socket.connect()
        assert connected
        snapshot = await socket.receive_json_from(timeout=5)
        assert snapshot["type"] == "snapshot"
        assert snapshot["results"]["by_status"]["waiting"] == 1
        assert snapshot["recent"][0]["run"] == str(run.pk)

        step = await database_sync_to_async_create_step(run)
        publisher.publish(workflow_group(workflow.pk), step_message(run, step))
        live = await socket.receive_json_from(timeout=5)
        assert live["type"] == "events"
        [event] = live["events"]
        assert (event["run"], event["node_id"], event["seq"]) == (str(run.pk), "start", step.seq)
        counts = await socket.receive_json_from(timeout=5)
        assert counts["type"] == "counts"
        assert counts["results"]["nodes"]["start"]["entered"] == 1
        await socket.disconnect()

    watch()


def test_preview_snapshot_on_connect_and_on_request_equals_the_stored_preview(
    member_and_workflow,
):
    user, workflow = member_and_workflow
    run = RunFactory(workflow=workflow, is_preview=True, status=RunStatus.COMPLETED)
    StepFactory(run=run, seq=1, node_id="start", output={"event": "signup"})
    StepFactory(run=run, seq=2, node_id="tag", node_type="action.tag", output={"would_add": ["x"]})
    cookie = session_cookie(user)

    @async_to_sync
    async def watch():
        socket = connect(f"/ws/previews/{run.pk}/", cookie)
        assert (await socket.connect())[0]
        snapshot = await socket.receive_json_from(timeout=5)
        assert [step["seq"] for step in snapshot["steps"]] == [1, 2]
        assert snapshot["steps"][1]["output"] == {"would_add": ["x"]}
        assert snapshot["last_seq"] == 2
        assert snapshot["run_status"] == "completed"
        # A client that saw a gap asks again and gets the same stored truth.
        await socket.send_json_to({"type": "snapshot"})
        assert await socket.receive_json_from(timeout=5) == snapshot
        await socket.disconnect()

    watch()


def test_publishing_never_waits_for_watchers():
    """With the queue full, publish returns at once and drops (the engine never blocks)."""
    from automation.live import Publisher

    stuck = Publisher(size=1, autostart=False)  # nothing ever takes from the queue
    stuck.publish("g", {"type": "x"})
    stuck.publish("g", {"type": "x"})
    assert stuck.dropped == 1
    assert publisher.dropped == 0


async def database_sync_to_async_create_step(run):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(StepFactory)(run=run, seq=1, node_id="start")


def test_watchers_of_one_workflow_share_one_subscription_and_all_get_each_batch(
    member_and_workflow,
):
    from builder import fanout

    user, workflow = member_and_workflow
    run = RunFactory(workflow=workflow, current_node="start", status=RunStatus.WAITING)
    step = StepFactory(run=run, seq=1, node_id="start")
    cookie = session_cookie(user)

    @async_to_sync
    async def watch():
        sockets = [connect(f"/ws/workflows/{workflow.pk}/", cookie) for _ in range(3)]
        for socket in sockets:
            assert (await socket.connect())[0]
            assert (await socket.receive_json_from(timeout=5))["type"] == "snapshot"
        [registry] = [r for r in fanout._registries.values() if r.hubs]
        assert list(registry.hubs) == [workflow_group(workflow.pk)]
        assert len(registry.hubs[workflow_group(workflow.pk)].sockets) == 3

        publisher.publish(workflow_group(workflow.pk), step_message(run, step))
        for socket in sockets:
            message = await socket.receive_json_from(timeout=5)
            assert [event["seq"] for event in message["events"]] == [1]
        for socket in sockets:
            await socket.disconnect()
        assert not registry.hubs  # the last one out closed the subscription

    watch()


def test_the_embedded_in_memory_layer_delivers_what_the_executor_thread_publishes(settings):
    """Embedded default: runs execute in a thread of the web process, watchers in its loop."""
    import asyncio

    from channels.layers import channel_layers, get_channel_layer

    from automation.live import Publisher
    from builder import fanout

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    embedded = Publisher()

    @async_to_sync
    async def watch():
        layer = get_channel_layer()
        assert type(layer).__name__ == "InMemoryChannelLayer"
        embedded.bind_server_loop(asyncio.get_running_loop())
        received = []

        async def deliver(text):
            received.append(text)

        await fanout.join(layer, "preview.x", deliver)
        # Published from another thread, as the embedded executor does.
        await asyncio.get_running_loop().run_in_executor(
            None, embedded.publish, "preview.x", {"kind": "step", "seq": 1}
        )
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.02)
        await fanout.leave("preview.x", deliver)
        return received

    try:
        received = watch()
    finally:
        channel_layers.backends.clear()
    assert len(received) == 1
    assert '"seq": 1' in received[0]
