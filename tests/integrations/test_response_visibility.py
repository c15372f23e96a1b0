"""What an outside system answered is for editors and up.

Invariant: a viewer's `GET /api/v1/runs/{id}` shows that a webhook step has
a response body but not what it says; an editor reads it. Other nodes'
outputs are unaffected.
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
