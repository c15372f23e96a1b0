"""The canvas's WebSockets under hostile or stale clients, through the real ASGI app
and channels-redis.

Invariants:
- a path or id the routes do not know closes with 4404, never an HTTP 500;
- a frame that is not a small JSON request (bad JSON, null, [], 2 MB, 2,000
  levels deep, binary) closes with 4400 and its reason, never an unhandled error;
  an unknown request type is answered with an error and the socket stays;
- a watcher removed from the workspace (membership deleted, user deleted or
  deactivated) is closed with 4403 within seconds and receives nothing more:
  no live step, no snapshot with contact emails (issue 16, points 6 and 9).
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from automation.live import publisher, step_message, workflow_group
from automation.models import RunStatus
from builder import consumers
from builder.consumers import FORBIDDEN, NOT_FOUND
from builder.frames import BAD_FRAME
from builder.models import Membership
from tests.builder.factories import (
    MembershipFactory,
    RunFactory,
    StepFactory,
    UserFactory,
    WorkspaceFactory,
    published_workflow,
)
from tests.builder.test_consumers import connect, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

# How long a test waits for the server at most (a bound, not a measured time).
WAIT = 8


@pytest.fixture
def watcher():
    """A viewer of a workspace, its published workflow with one waiting run of a contact."""
    workspace = WorkspaceFactory()
    user = UserFactory()
    membership = MembershipFactory(user=user, workspace=workspace, role="viewer")
    workflow = published_workflow(workspace)
    run = RunFactory(workflow=workflow, current_node="start", status=RunStatus.WAITING)
    return membership, workflow, run


async def opened(path: str, cookie: bytes):
    socket = connect(path, cookie)
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    return socket


async def closed_with(socket) -> tuple[int, str]:
    message = await socket.receive_output(timeout=WAIT)
    assert message["type"] == "websocket.close", message
    return message.get("code"), message.get("reason", "")


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "path",
    [
        "/ws/workflows/------------------------------------/",
        "/ws/workflows/not-a-uuid/",
        "/ws/previews/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz/",
        "/ws/workflows/",
        "/ws/nothing-here/",
        "/anything",
    ],
)
def test_a_malformed_path_or_id_is_closed_with_4404(watcher, path):
    membership, _workflow, _run = watcher
    cookie = session_cookie(membership.user)

    @async_to_sync
    async def attempt():
        socket = await opened(path, cookie)
        code, _reason = await closed_with(socket)
        await socket.disconnect()
        return code

    assert attempt() == NOT_FOUND


# ---------------------------------------------------------------- frames


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{not json", "not JSON"),
        ("null", "expected an object"),
        ("[]", "expected an object"),
        ('{"kind": "snapshot"}', "expected an object"),
        ('{"type": "' + "x" * (2 * 1024 * 1024) + '"}', "larger than"),
        ("[" * 2000 + "]" * 2000, "nested deeper"),
        ('{"type": ' + "[" * 2000 + "]" * 2000 + "}", "nested deeper"),
        (b"\x00\x01binary", "not binary"),
    ],
    ids=["bad-json", "null", "list", "no-type", "2MB", "2000-deep", "deep-type", "binary"],
)
def test_a_bad_frame_is_closed_with_4400_and_its_reason(watcher, frame, reason):
    membership, workflow, _run = watcher
    cookie = session_cookie(membership.user)

    @async_to_sync
    async def attempt():
        socket = await opened(f"/ws/workflows/{workflow.pk}/", cookie)
        assert (await socket.receive_json_from(timeout=WAIT))["type"] == "snapshot"
        if isinstance(frame, bytes):
            await socket.send_to(bytes_data=frame)
        else:
            await socket.send_to(text_data=frame)
        result = await closed_with(socket)
        await socket.disconnect()
        return result

    code, said = attempt()
    assert code == BAD_FRAME
    assert said.startswith("bad frame") and reason in said


def test_an_unknown_request_is_answered_and_the_socket_stays(watcher):
    membership, workflow, run = watcher
    cookie = session_cookie(membership.user)

    @async_to_sync
    async def attempt():
        socket = await opened(f"/ws/workflows/{workflow.pk}/", cookie)
        await socket.receive_json_from(timeout=WAIT)
        await socket.send_json_to({"type": "launch-missiles"})
        answer = await socket.receive_json_from(timeout=WAIT)
        await socket.send_json_to({"type": "snapshot"})
        snapshot = await socket.receive_json_from(timeout=WAIT)
        await socket.disconnect()
        return answer, snapshot

    answer, snapshot = attempt()
    assert answer == {"type": "error", "error": "unknown request type"}
    assert snapshot["recent"][0]["run"] == str(run.pk)


# ---------------------------------------------------------------- removed members


def remove_membership(membership):
    Membership.objects.filter(pk=membership.pk).delete()


def delete_user(membership):
    membership.user.delete()


def deactivate_user(membership):
    user = membership.user
    user.is_active = False
    user.save()


def delete_workspace(membership):
    membership.workspace.delete()


@pytest.mark.parametrize(
    "removal",
    [remove_membership, delete_user, deactivate_user, delete_workspace],
    ids=lambda f: f.__name__,
)
def test_a_removed_watcher_is_closed_with_4403_and_gets_nothing_more(watcher, removal):
    membership, workflow, run = watcher
    step = StepFactory(run=run, seq=1, node_id="start")
    cookie = session_cookie(membership.user)

    @async_to_sync
    async def attempt():
        socket = await opened(f"/ws/workflows/{workflow.pk}/", cookie)
        snapshot = await socket.receive_json_from(timeout=WAIT)
        assert snapshot["recent"][0]["contact_email"]  # what a removed member must not see
        await database_sync_to_async(removal)(membership)
        code, reason = await closed_with(socket)
        # Activity after removal reaches no one.
        publisher.publish(workflow_group(workflow.pk), step_message(run, step))
        await socket.send_json_to({"type": "snapshot"})
        silent = await socket.receive_nothing(timeout=1)
        await socket.disconnect()
        return code, reason, silent

    code, reason, silent = attempt()
    assert code == FORBIDDEN
    assert "no longer a member" in reason
    assert silent


def test_a_removal_no_signal_saw_is_caught_by_the_timer(watcher, monkeypatch):
    """A membership deleted by a raw query (or in another process with the in-memory
    layer) sends no recheck: the socket's own timer finds it."""
    membership, workflow, _run = watcher
    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.2)
    cookie = session_cookie(membership.user)

    @async_to_sync
    async def attempt():
        socket = await opened(f"/ws/workflows/{workflow.pk}/", cookie)
        await socket.receive_json_from(timeout=WAIT)
        await database_sync_to_async(
            lambda: Membership.objects.filter(pk=membership.pk)._raw_delete("default")
        )()
        code, _reason = await closed_with(socket)
        await socket.disconnect()
        return code

    assert attempt() == FORBIDDEN


def test_a_request_after_a_silent_removal_is_refused_not_answered(watcher, monkeypatch):
    """Every request re-checks: no snapshot (contact emails) for a removed member."""
    membership, workflow, _run = watcher
    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 3600)
    cookie = session_cookie(membership.user)

    @async_to_sync
    async def attempt():
        socket = await opened(f"/ws/workflows/{workflow.pk}/", cookie)
        await socket.receive_json_from(timeout=WAIT)
        await database_sync_to_async(
            lambda: Membership.objects.filter(pk=membership.pk)._raw_delete("default")
        )()
        await socket.send_json_to({"type": "snapshot"})
        code, _reason = await closed_with(socket)
        await socket.disconnect()
        return code

    assert attempt() == FORBIDDEN


def test_a_removed_preview_watcher_is_closed_too(watcher):
    membership, workflow, _run = watcher
    preview = RunFactory(workflow=workflow, is_preview=True, status=RunStatus.WAITING)
    cookie = session_cookie(membership.user)

    @async_to_sync
    async def attempt():
        socket = await opened(f"/ws/previews/{preview.pk}/", cookie)
        await socket.receive_json_from(timeout=WAIT)
        await database_sync_to_async(remove_membership)(membership)
        code, _reason = await closed_with(socket)
        await socket.disconnect()
        return code

    assert attempt() == FORBIDDEN


def test_other_members_keep_watching(watcher):
    membership, workflow, run = watcher
    other = MembershipFactory(user=UserFactory(), workspace=workflow.workspace, role="editor")
    step = StepFactory(run=run, seq=1, node_id="start")
    cookies = session_cookie(membership.user), session_cookie(other.user)

    @async_to_sync
    async def attempt():
        leaving = await opened(f"/ws/workflows/{workflow.pk}/", cookies[0])
        staying = await opened(f"/ws/workflows/{workflow.pk}/", cookies[1])
        await leaving.receive_json_from(timeout=WAIT)
        await staying.receive_json_from(timeout=WAIT)
        await database_sync_to_async(remove_membership)(membership)
        assert (await closed_with(leaving))[0] == FORBIDDEN
        publisher.publish(workflow_group(workflow.pk), step_message(run, step))
        live = await staying.receive_json_from(timeout=WAIT)
        await leaving.disconnect()
        await staying.disconnect()
        return live

    assert attempt()["type"] == "events"
