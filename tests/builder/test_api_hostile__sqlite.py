"""Issue 16's probes on the embedded default's SQLite database (in-memory channel
layer): the same answers as on PostgreSQL (test_validation__limits.py,
test_validation__references.py, test_consumers__access.py).

- a 310-digit delay and a 250-character wait event are issues on their
  fields, and publish is refused (409, nothing published);
- enrolling in another workspace's workflow is refused at validation;
- a malformed WebSocket path closes with 4404, a bad frame with 4400, and a
  watcher removed from the workspace with 4403.
"""

from __future__ import annotations

import json

from tests.products.embedded import shell, sqlite_env

SCRIPT = """
import json
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.test import Client
from builder.models import WorkflowVersion
from tests.builder.factories import MembershipFactory, UserFactory, WorkflowFactory
from tests.builder.factories import WorkspaceFactory, published_workflow
from tests.builder.graphs import chain, edge, graph, node
from tests.builder.test_consumers import connect, session_cookie

ours, theirs = WorkspaceFactory(), WorkspaceFactory()
user = UserFactory()
membership = MembershipFactory(user=user, workspace=ours, role="publisher")
client = Client(HTTP_HOST="127.0.0.1:8000")
client.force_login(user)

def publish(draft):
    workflow = WorkflowFactory(workspace=ours, draft=draft)
    url = f"/api/v1/workflows/{workflow.pk}/publish"
    answer = client.post(url, {}, content_type="application/json")
    issues = sorted({(i["node"], i["field"]) for i in answer.json().get("issues", [])})
    published = WorkflowVersion.objects.filter(workflow=workflow).exists()
    return answer.status_code, issues, published

def with_middle(middle, handle=None):
    nodes = [node("start", "trigger.event"), middle, node("tag", "action.tag")]
    edges = [*chain("start", middle["id"]), edge(middle["id"], "tag", handle)]
    if handle == "received":
        middle.setdefault("data", {})["open_handles"] = ["timeout"]
    return graph(nodes, edges)

hour = {"amount": 1, "unit": "hours"}
huge_delay = node("wait", "wait.delay", {"amount": int("9" * 310), "unit": "days"})
long_event = node("wait", "wait.event", {"event": "x" * 250, "timeout": hour})
results = {
    "huge_delay": publish(with_middle(huge_delay)),
    "long_event": publish(with_middle(long_event, "received")),
}
their_flow = WorkflowFactory(workspace=theirs)
enrol = node("enroll", "action.enroll", {"workflow": str(their_flow.pk)})
start = node("start", "trigger.event")
results["other_workspace"] = publish(graph([start, enrol], chain("start", "enroll")))

workflow = published_workflow(ours)
cookie = session_cookie(user)

@async_to_sync
async def sockets():
    codes = {}
    socket = connect("/ws/workflows/not-a-uuid/", cookie)
    await socket.connect(timeout=8)
    codes["malformed"] = (await socket.receive_output(timeout=8)).get("code")
    socket = connect(f"/ws/workflows/{workflow.pk}/", cookie)
    await socket.connect(timeout=8)
    await socket.receive_json_from(timeout=8)
    await socket.send_to(text_data="{not json")
    codes["bad_frame"] = (await socket.receive_output(timeout=8)).get("code")
    socket = connect(f"/ws/workflows/{workflow.pk}/", cookie)
    await socket.connect(timeout=8)
    await socket.receive_json_from(timeout=8)
    await database_sync_to_async(membership.delete)()
    codes["removed"] = (await socket.receive_output(timeout=8)).get("code")
    return codes

results["sockets"] = sockets()
print("RESULT=" + json.dumps(results))
"""


def test_the_probes_get_clear_answers_on_sqlite(tmp_path):
    printed = shell(sqlite_env(tmp_path), SCRIPT)
    result = json.loads(next(line[7:] for line in printed.splitlines() if line[:7] == "RESULT="))
    assert result["huge_delay"] == [409, [["wait", "config.amount"]], False]
    assert result["long_event"] == [409, [["wait", "config.event"]], False]
    status, issues, published = result["other_workspace"]
    assert (status, published) == (409, False)
    assert ["enroll", "config.workflow"] in issues
    assert result["sockets"] == {"malformed": 4404, "bad_frame": 4400, "removed": 4403}
