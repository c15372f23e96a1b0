"""What an outside system answered is for editors and up.

Invariant: a viewer's `GET /api/v1/runs/{id}` shows that a step that reached
outside (a webhook, every provider node, notify/task sent to a provider) has
a response but not what it says; an editor reads it. Other nodes' outputs
are unaffected.
"""

from __future__ import annotations

import json

import pytest

from builder.models import Role
from tests.builder.conftest import key_client
from tests.builder.factories import RunFactory, StepFactory, published_workflow

pytestmark = pytest.mark.django_db

ANSWER = {"customer": {"id": 7, "ssn": "078-05-1120"}}


@pytest.fixture
def run_with_webhook_step(workspace_a):
    run = RunFactory(workflow=published_workflow(workspace_a))
    StepFactory(run=run, seq=1, node_id="start", node_type="trigger.event", output={"x": 1})
    StepFactory(
        run=run,
        seq=2,
        node_id="hook",
        node_type="action.webhook",
        output={"status": 200, "body": ANSWER, "url": "https://crm.example/c", "method": "GET"},
    )
    StepFactory(
        run=run,
        seq=3,
        node_id="hook2",
        node_type="action.webhook",
        status="failed",
        output={"response": {"status": 400, "body": {"error": "bad ssn 078-05-1120"}}},
    )
    return run


def steps_seen_by(workspace, role, run):
    response = key_client(workspace, role).get(f"/api/v1/runs/{run.pk}/")
    assert response.status_code == 200
    return {step["node_id"]: step for step in response.json()["steps"]}


def test_a_viewer_cannot_read_a_webhooks_response_body(workspace_a, run_with_webhook_step):
    steps = steps_seen_by(workspace_a, Role.VIEWER, run_with_webhook_step)
    assert "078-05-1120" not in json.dumps(steps)
    assert steps["hook"]["output"]["status"] == 200
    assert steps["hook"]["output"]["body"].startswith("[hidden")
    assert steps["hook2"]["output"]["response"].startswith("[hidden")
    assert steps["start"]["output"] == {"x": 1}


@pytest.mark.parametrize("role", [Role.EDITOR, Role.PUBLISHER, Role.ADMIN])
def test_editors_and_up_read_it(workspace_a, run_with_webhook_step, role):
    steps = steps_seen_by(workspace_a, role, run_with_webhook_step)
    assert steps["hook"]["output"]["body"] == ANSWER
    assert steps["hook2"]["output"]["response"]["status"] == 400


# ------------------------------------------------------------------ every outside call
#
# Invariant: one rule for every node that reaches outside. What the other
# system answered (`response`: status, redacted body), kept on success and on
# failure, is read by editors and up only: a viewer's GET /api/v1/runs/{id}
# says it is there, never what it says. Real calls through the engine to a
# real HTTP server on 127.0.0.1 standing in for each provider.

SSN = "078-05-1120"  # something the outside system said that a viewer must not read


def _push_subscription(endpoint: str) -> dict:
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from py_vapid import b64urlencode

    public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "endpoint": endpoint,
        "keys": {"p256dh": b64urlencode(public), "auth": b64urlencode(os.urandom(16))},
    }


def _vapid_key() -> str:
    from py_vapid import Vapid02, b64urlencode

    keys = Vapid02()
    keys.generate_keys()
    return b64urlencode(keys.private_key.private_numbers().private_value.to_bytes(32, "big"))


# (node type, provider, connection settings, secrets, node config, the provider's 2xx answer)
CALLS = {
    "slack": (
        "action.slack",
        "slack",
        {},
        {"bot_token": "xoxb-v"},
        {"channel": "#sales", "text": "hi"},
        {"ok": True, "channel": "C1", "ts": "1.2", "note": SSN},
    ),
    "jira": (
        "action.jira",
        "jira",
        {"email": "bot@acme.example", "project_key": "OPS"},
        {"api_token": "j"},
        {"title": "Call"},
        {"id": "1", "key": "OPS-1", "note": SSN},
    ),
    "github": (
        "action.github",
        "github",
        {"owner": "acme", "repo": "app"},
        {"token": "g"},
        {"title": "Call"},
        {"number": 4, "html_url": "https://github.example/4", "note": SSN},
    ),
    "linear": (
        "action.linear",
        "linear",
        {"team_id": "T"},
        {"api_key": "l"},
        {"title": "Call"},
        {"data": {"issueCreate": {"issue": {"id": "i", "identifier": "T-1"}}}, "note": SSN},
    ),
    "mixpanel": (
        "action.mixpanel",
        "mixpanel",
        {"project_id": "1", "username": "sa"},
        {"secret": "m"},
        {"event": "Signed up"},
        {"code": 200, "num_records_imported": 1, "note": SSN},
    ),
    "sms": (
        "action.sms",
        "sms",
        {"account_sid": "AC1", "from_number": "+15005550006"},
        {"auth_token": "s"},
        {"body": "hi"},
        {"sid": "SM1", "status": "queued", "note": SSN},
    ),
    "push": (
        "action.push",
        "webpush",
        {"subject": "mailto:ops@acme.example"},
        None,  # a fresh VAPID key
        {"title": "hi"},
        {"note": SSN},
    ),
    "notify to slack": (
        "action.notify",
        "slack",
        {},
        {"bot_token": "xoxb-v"},
        {"slack_channel": "#sales", "message": "hi"},
        {"ok": True, "channel": "C1", "ts": "1.2", "note": SSN},
    ),
    "task in linear": (
        "action.task",
        "linear",
        {"team_id": "T"},
        {"api_key": "l"},
        {"system": "linear", "title": "Call"},
        {"data": {"issueCreate": {"issue": {"id": "i", "identifier": "T-1"}}}, "note": SSN},
    ),
}


def _run_through_the_engine(service, case: str, answer_status: int):
    from automation.engine import advance_run
    from automation.models import Run
    from integrations.models import Connection
    from tests.automation.workflows import chain, graph, node, published, send, workspace

    type_, provider, settings_, secrets, config, ok_answer = CALLS[case]
    made = Connection(
        workspace=workspace(),
        provider=provider,
        name=case,
        settings={"base_url": service.url, **settings_},
    )
    made.set_secrets(secrets or {"private_key": _vapid_key()})
    made.save()
    wired = {"channel": str(made.pk)} if type_ == "action.notify" else {"connection": str(made.pk)}
    start = node("start", "trigger.event", event="signup")
    call = node("call", type_, **wired, **config)
    published(graph([start, call], chain(start, call)))
    if answer_status < 300:
        service.answer(answer_status, ok_answer)
    else:
        service.answer(answer_status, {"error": f"refused: {SSN} is not valid"})
    send(
        "signup",
        "ada@example.com",
        properties={
            "phone": "+447700900123",
            "push_subscription": _push_subscription(f"{service.url}/push/sub-1"),
        },
    )
    run = Run.objects.get(contact__email="ada@example.com")
    advance_run(run.pk)
    assert len(service.requests) == 1, f"{case}: the provider was not called"
    return run


@pytest.mark.parametrize("answer_status", [201, 400], ids=["answered", "refused"])
@pytest.mark.parametrize("case", list(CALLS))
def test_no_provider_answer_reaches_a_viewer_but_editors_read_it(
    workspace_a, service, case, answer_status
):
    run = _run_through_the_engine(service, case, answer_status)

    viewer = key_client(run.workspace, Role.VIEWER).get(f"/api/v1/runs/{run.pk}/")
    assert viewer.status_code == 200
    assert SSN not in viewer.content.decode()
    seen = {step["node_id"]: step for step in viewer.json()["steps"]}
    assert seen["call"]["output"]["response"].startswith("[hidden")

    editor = key_client(run.workspace, Role.EDITOR).get(f"/api/v1/runs/{run.pk}/")
    kept = {step["node_id"]: step for step in editor.json()["steps"]}["call"]["output"]
    assert kept["response"]["status"] == answer_status
    assert SSN in json.dumps(kept["response"]["body"])


def test_a_notify_to_the_inbox_is_no_outside_call_and_stays_readable(workspace_a):
    from automation.engine import advance_run
    from automation.models import Run
    from tests.automation.workflows import chain, graph, node, published, send

    start = node("start", "trigger.event", event="signup")
    note = node("note", "action.notify", message="response: {{ contact.email }}")
    published(graph([start, note], chain(start, note)))
    send("signup", "bo@example.com")
    run = Run.objects.get(contact__email="bo@example.com")
    advance_run(run.pk)
    steps = steps_seen_by(run.workspace, Role.VIEWER, run)
    assert steps["note"]["output"]["title"] == "response: bo@example.com"
