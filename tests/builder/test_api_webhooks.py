"""Inbound webhooks: POST /hooks/workflows/<id>/<signature> enrols into that workflow only.

Invariant: only the exact signature opens the door, and a wrong one looks
exactly like a workflow that does not exist (404). Deliveries are signed per
Standard Webhooks (tests/integrations/test_inbound_webhooks.py covers that).
"""

from __future__ import annotations

import pytest

from automation.models import Event, Run
from automation.webhooks import webhook_path
from tests.builder.factories import published_workflow, signup_graph, trigger_graph
from tests.integrations.signing import signed_post, workflow_secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooked(workspace_a):
    return published_workflow(workspace_a, graph=trigger_graph("trigger.webhook", {}))


def post(workflow, path, payload):
    """A signed delivery (Standard Webhooks) with the workflow's signing secret."""
    return signed_post(path, payload, workflow_secret(workflow))


def body(**overrides) -> dict:
    return {"id": "delivery-1", "contact": {"email": "w@example.com"}, "data": {"paid": True}} | (
        overrides
    )


def test_a_signed_post_enrols_into_the_workflow(hooked):
    response = post(hooked, webhook_path(hooked.pk), body())

    assert response.status_code == 202, response.data
    assert response.data == {"accepted": 1, "duplicates": 0, "enrolled": 1}
    run = Run.objects.get()
    assert run.workflow_id == hooked.pk
    assert Event.objects.get().data == {"paid": True}


def test_the_same_delivery_twice_is_a_duplicate(hooked):
    post(hooked, webhook_path(hooked.pk), body())

    again = post(hooked, webhook_path(hooked.pk), body())

    assert again.data == {"accepted": 0, "duplicates": 1, "enrolled": 0}
    assert Run.objects.count() == 1


def test_the_webhook_url_shown_on_the_workflow_works(client_a, hooked):
    url = client_a.get(f"/api/v1/workflows/{hooked.pk}/").data["webhook_url"]

    response = post(hooked, url, body())

    assert response.status_code == 202


def test_a_wrong_signature_is_a_404(hooked):
    path = webhook_path(hooked.pk)
    wrong = path[:-1] + ("0" if path[-1] != "0" else "1")

    response = post(hooked, wrong, body())

    assert response.status_code == 404
    assert not Event.objects.exists()


def test_another_workflows_signature_is_a_404(hooked, workspace_a):
    other = published_workflow(workspace_a, graph=signup_graph())
    signature = webhook_path(other.pk).rsplit("/", 1)[1]

    response = post(hooked, f"/hooks/workflows/{hooked.pk}/{signature}", body())

    assert response.status_code == 404


def test_an_unpublished_workflow_is_a_404(workspace_a):
    from tests.builder.factories import WorkflowFactory

    draft = WorkflowFactory(workspace=workspace_a, draft=trigger_graph("trigger.webhook", {}))

    response = post(draft, webhook_path(draft.pk), body())

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"contact": {}}, "contact"),
        ({"contact": {"email": "nope"}}, "contact.email"),
        ({"data": [1]}, "data"),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(hooked, overrides, field):
    response = post(hooked, webhook_path(hooked.pk), body(**overrides))

    assert response.status_code == 400
    assert response.data["detail"].startswith(f"{field}:")
    assert not Event.objects.exists()


def test_a_workflow_without_a_webhook_trigger_enrols_nobody(workspace_a):
    workflow = published_workflow(workspace_a, graph=signup_graph())

    response = post(workflow, webhook_path(workflow.pk), body())

    assert response.status_code == 202
    assert response.data["enrolled"] == 0
