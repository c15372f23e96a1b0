"""Outside answers storage refuses, on the embedded default's SQLite (issue 16, point 5).

SQLite itself stores NUL in JSON text (Django writes it as the escape
`\\u0000`), so before, the same answer completed there with NUL in the step
while PostgreSQL failed the step: the same answer must give the same step
on both. Invariant: a binary answer is kept as base64, text and JSON with NUL
or lone surrogates with U+FFFD and a storage note; one call each.
"""

from __future__ import annotations

import base64
import json

from tests.products.embedded import shell, sqlite_env

BINARY = b"\x00\x01\x02\xffbinary\x00"

SCRIPT = """
import json
from automation.engine import advance_run
from automation.models import Run, Step
from tests.automation.workflows import chain, graph, node, published, send

def flow(name, url):
    start = node("start", "trigger.event", event=name)
    hook = node("hook", "action.webhook", url=url, body={"n": 1})
    published(graph([start, hook], chain(start, hook)), name=name)

flow("binary", "%(url)s/binary")
flow("text", "%(url)s/text")
flow("json", "%(url)s/json")
for name in ("binary", "text", "json"):  # one at a time: the service answers in order
    send(name, name + "@example.com", event_id=name)
    run = Run.objects.get(contact__email=name + "@example.com")
    advance_run(run.pk)  # as the embedded executor's thread would (a shell starts none)
print("RESULT=" + json.dumps({
    run.contact.email.split("@")[0]: {
        "status": run.status,
        "error": run.error,
        "output": Step.objects.get(run=run, node_id="hook").output,
    }
    for run in Run.objects.select_related("contact")
}))
"""


def test_unstorable_answers_are_stored_the_same_way_on_sqlite(tmp_path, service):
    service.answer(200, BINARY, content_type="application/octet-stream")
    service.answer(200, b"a\x00b", content_type="text/plain")
    service.answer(200, b'{"v": "x\\u0000y", "s": "\\udc00"}', content_type="application/json")
    env = sqlite_env(tmp_path, OUTBOUND_ALLOWLIST="127.0.0.1")

    printed = shell(env, SCRIPT % {"url": service.url})

    result = json.loads(next(line[7:] for line in printed.splitlines() if line[:7] == "RESULT="))
    assert {name: run["status"] for name, run in result.items()} == {
        "binary": "completed",
        "text": "completed",
        "json": "completed",
    }, result
    assert len(service.requests) == 3
    assert result["binary"]["output"]["body"] == {
        "base64": base64.b64encode(BINARY).decode(),
        "content_type": "application/octet-stream",
        "size": len(BINARY),
        "truncated": False,
    }
    assert result["text"]["output"]["body"] == "a\ufffdb"
    assert result["json"]["output"]["body"] == {"v": "x\ufffdy", "s": "\ufffd"}
    assert "NUL" in result["json"]["output"]["storage_note"]
