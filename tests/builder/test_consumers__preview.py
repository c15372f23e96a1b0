"""A real preview streamed over /ws/previews/{id}/ on channels-redis, by the real worker."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from automation.models import Step
from builder.live import step_dict
from builder.models import Role
from tests.automation.workflows import chain, graph, node
from tests.builder.conftest import key_client
from tests.builder.factories import (
    MembershipFactory,
    UserFactory,
    WorkflowFactory,
    WorkspaceFactory,
)
from tests.builder.test_consumers import connect, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


def test_a_stepped_preview_streams_contiguous_steps_and_a_reconnect_gets_the_stored_truth():
    workspace = WorkspaceFactory()
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role=Role.EDITOR)
    nodes = [node("start", "trigger.event", event="signup")] + [
        node(f"t{n}", "action.tag", add=[f"t{n}"]) for n in range(1, 6)
    ]
    workflow = WorkflowFactory(workspace=workspace, draft=graph(nodes, chain(*nodes)))
    api = key_client(workspace, Role.EDITOR)
    run_id = api.post(
        f"/api/v1/workflows/{workflow.pk}/preview", {"mode": "step"}, format="json"
    ).data["id"]
    cookie = session_cookie(user)
    go_on = sync_to_async(lambda: api.post(f"/api/v1/previews/{run_id}/next").status_code)

    @async_to_sync
    async def watch():
        socket = connect(f"/ws/previews/{run_id}/", cookie)
        assert (await socket.connect())[0]
        first = await socket.receive_json_from(timeout=10)
        assert first["type"] == "snapshot" and first["steps"] == []
        seen: list[int] = []
        status = first["run_status"]
        if first["paused_before"] and status == "waiting":
            assert await go_on() == 200
        while status != "completed":
            message = await socket.receive_json_from(timeout=20)
            if message["type"] == "snapshot":
                continue
            for event in message["events"]:
                if event.get("kind") == "step" and event["seq"] not in seen:
                    seen.append(event["seq"])
                status = event["run_status"]
                if event.get("paused_before") and status == "waiting":
                    assert await go_on() == 200
        await socket.disconnect()

        again = connect(f"/ws/previews/{run_id}/", cookie)
        assert (await again.connect())[0]
        snapshot = await again.receive_json_from(timeout=10)
        await again.disconnect()
        return seen, snapshot

    seen, snapshot = watch()
    # Invariant: every step arrived live, numbered without a gap.
    assert seen == list(range(1, 7))
    stored = [step_dict(step) for step in Step.objects.filter(run_id=run_id).order_by("seq")]
    assert snapshot["steps"] == stored
    assert snapshot["run_status"] == "completed"
