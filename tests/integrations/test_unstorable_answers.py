"""Outside answers that storage refuses are stored anyway (issue 16, point 5).

Invariant: whatever a service answers, the step that called it records what
can be stored and goes on; the call is made once. PostgreSQL refuses NUL in
text and `\\u0000` (and lone surrogates) in jsonb, so before, a 200 with NUL
bytes failed the step *after* the call, and every retry called again. Now
text keeps its characters with NUL (and lone surrogates) replaced by U+FFFD
and a `storage_note` saying so; a body that is not text is kept as base64
with its content type and size, within the usual bounds.
"""

from __future__ import annotations

import base64
import json

import pytest

from automation.models import Run, RunStatus, Step
from tests.automation.workflows import chain, graph, node, published, send
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff\xfe" + bytes(range(256))


def hook_flow(url: str) -> None:
    start = node("start", "trigger.event", event="order_placed")
    hook = node("hook", "action.webhook", url=url, body={"n": "{{ event.data.n }}"})
    done = node("done", "action.tag", add=["synced"])
    published(graph([start, hook, done], chain(start, hook, done)))


def finished(email: str) -> Run:
    return wait_until(
        lambda: Run.objects.filter(contact__email=email)
        .exclude(status__in=[RunStatus.RUNNING, RunStatus.WAITING])
        .first(),
        timeout=30,
        what=f"the run of {email} finishes",
    )


def answer_of(run: Run) -> dict:
    step = Step.objects.get(run=run, node_id="hook")
    assert step.error == ""
    return step.output


def test_a_binary_answer_is_kept_as_base64_and_the_run_goes_on(service):
    hook_flow(f"{service.url}/export")
    service.answer(200, BINARY, content_type="application/octet-stream")

    send("order_placed", "ada@example.com", data={"n": 1})
    run = finished("ada@example.com")

    assert run.status == RunStatus.COMPLETED, run.error
    assert len(service.requests) == 1  # called once: nothing failed after the call
    body = answer_of(run)["body"]
    assert body == {
        "base64": base64.b64encode(BINARY).decode(),
        "content_type": "application/octet-stream",
        "size": len(BINARY),
        "truncated": False,
    }


def test_text_with_nul_bytes_is_kept_with_them_replaced(service):
    hook_flow(f"{service.url}/text")
    service.answer(200, b"id=7\x00\x00ok", content_type="text/plain; charset=utf-8")

    send("order_placed", "bob@example.com", data={"n": 2})
    run = finished("bob@example.com")

    assert run.status == RunStatus.COMPLETED, run.error
    assert len(service.requests) == 1
    output = answer_of(run)
    assert output["body"] == "id=7\ufffd\ufffdok"
    assert "NUL" in output["storage_note"]
    assert "body" in output["storage_note"]


def test_json_with_nul_and_lone_surrogates_is_kept_with_them_replaced(service):
    hook_flow(f"{service.url}/json")
    raw = b'{"name": "a\\u0000b", "bad\\u0000key": 1, "half": "\\ud800x", "ok": [1, "fine"]}'
    service.answer(200, raw, content_type="application/json")

    send("order_placed", "cy@example.com", data={"n": 3})
    run = finished("cy@example.com")

    assert run.status == RunStatus.COMPLETED, run.error
    assert len(service.requests) == 1
    body = answer_of(run)["body"]
    assert body == {"name": "a\ufffdb", "bad\ufffdkey": 1, "half": "\ufffdx", "ok": [1, "fine"]}
    # The run's outputs (what later steps read as steps.hook.*) hold the same.
    run.refresh_from_db()
    assert run.outputs["hook"]["body"] == body
    assert "\\u0000" not in json.dumps(run.outputs)


def test_an_error_answer_with_nul_bytes_fails_as_the_answer_says_not_on_storing_it(service):
    """A 404 is a permanent failure: one call, and the step keeps the answer."""
    hook_flow(f"{service.url}/gone")
    service.answer(404, b"no\x00such", content_type="text/plain")

    send("order_placed", "dee@example.com", data={"n": 4})
    run = finished("dee@example.com")

    assert run.status == RunStatus.FAILED
    assert len(service.requests) == 1
    step = Step.objects.get(run=run, node_id="hook")
    assert "answered 404" in step.error
    assert step.output["response"]["body"] == "no\ufffdsuch"
