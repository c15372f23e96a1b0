"""Preview: the current draft, run by the real worker for a sample contact, with nothing real."""

from __future__ import annotations

import pytest

from automation.models import Contact, InboxItem, Run, RunStatus, Step
from automation.results import workflow_results
from builder import gallery
from builder.models import Role
from tests.automation.workflows import chain, edge, graph, node
from tests.builder.conftest import key_client
from tests.builder.factories import WorkflowFactory, WorkspaceFactory, published_workflow
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

SAMPLE_DATA = {
    "cart_url": "https://shop.example/cart/1",
    "total": 80,
    "plan": "pro",
    # What a product trigger's event carries (the product templates read it).
    "product": {
        "name": "Atlas",
        "manager_email": "pm@example.com",
        "executive_email": "ceo@example.com",
    },
    "metrics": {"health_score": 72, "health_trend": -3, "active_users": 40, "features": {}},
}
# Whom the templates' emails go to: the contact, or a product's owners.
PREVIEW_RECIPIENTS = {"ada@example.com", "pm@example.com", "pm@example.com, ceo@example.com"}


def finished(run_id) -> Run:
    def done():
        run = Run.objects.get(pk=run_id)
        return run if run.status in (RunStatus.COMPLETED, RunStatus.FAILED) else None

    run = wait_until(done, what=f"preview {run_id} ends")
    assert run.status == RunStatus.COMPLETED, run.error
    return run


def waiting(run_id) -> Run:
    return wait_until(
        lambda: Run.objects.filter(pk=run_id, status=RunStatus.WAITING).first(),
        what=f"preview {run_id} waits",
    )


def steps_of(run_id) -> list[Step]:
    return list(Step.objects.filter(run_id=run_id).order_by("seq"))


def choices_for(draft: dict) -> dict:
    """Take the path with the most actions: timeouts at waits, the first path of splits."""
    choices = {}
    for item in draft["nodes"]:
        if item["type"] == "wait.event":
            choices[item["id"]] = {"handle": "timeout"}
        if item["type"] == "condition.split":
            choices[item["id"]] = {"handle": item["data"]["config"]["branches"][0]["handle"]}
    return choices


@pytest.fixture
def workspace():
    return WorkspaceFactory()


@pytest.fixture
def api(workspace):
    return key_client(workspace, Role.EDITOR)


@pytest.mark.parametrize("slug", [template["slug"] for template in gallery.list_templates()])
def test_previewing_a_template_sends_nothing_and_changes_nothing(
    slug, workspace, api, outbox, http_target
):
    workflow = published_workflow(workspace, graph=gallery.get_template(slug)["graph"])
    real = Contact.objects.create(
        workspace=workspace,
        email="ada@example.com",
        properties={"first_name": "Ada", "plan": "pro", "score": 85, "adoption": 10},
        tags=["customer"],
    )
    before = (real.snapshot(), workflow_results(workflow.pk), InboxItem.objects.count())

    response = api.post(
        f"/api/v1/workflows/{workflow.pk}/preview",
        {
            "contact": {"id": real.pk},
            "event": {"data": SAMPLE_DATA},
            "choices": choices_for(workflow.draft),
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["is_preview"] is True
    assert response.data["ws"] == f"/ws/previews/{response.data['id']}/"
    run = finished(response.data["id"])
    steps = steps_of(run.pk)
    assert steps[0].node_id == run.trigger_node
    # What would have been sent is shown, rendered for the sample contact...
    emails = [step.output["would"] for step in steps if step.node_type == "action.email"]
    assert emails, "every template sends an email on the chosen path"
    for email in emails:
        assert email["to"] in PREVIEW_RECIPIENTS
        assert "{{" not in email["subject"] and "{{" not in email["body"]
    # ...and nothing real happened.
    assert outbox.messages == []
    assert http_target.requests == []
    real.refresh_from_db()
    assert real.snapshot() == before[0]
    assert workflow_results(workflow.pk) == before[1]
    assert InboxItem.objects.count() == before[2]
    assert not Run.objects.filter(contact=real).exists()


def test_a_webhook_in_preview_shows_the_request_it_would_send(workspace, api, http_target):
    draft = graph(
        [
            node("start", "trigger.event", event="signup"),
            node(
                "hook",
                "action.webhook",
                url=f"{http_target.url}/crm/{{{{ contact.email }}}}",
                method="POST",
                body={"plan": "{{ event.data.plan }}"},
            ),
        ],
        chain(node("start", "trigger.event"), node("hook", "action.webhook")),
    )
    workflow = WorkflowFactory(workspace=workspace, draft=draft)

    response = api.post(
        f"/api/v1/workflows/{workflow.pk}/preview",
        {"contact": {"email": "bo@example.com"}, "event": {"data": {"plan": "pro"}}},
        format="json",
    )

    assert response.status_code == 201, response.data
    run = finished(response.data["id"])
    would = steps_of(run.pk)[1].output["would"]
    assert would["method"] == "POST"
    assert would["url"] == f"{http_target.url}/crm/bo@example.com"
    assert http_target.requests == []
    # A typed-in sample contact is a copy nobody else sees.
    assert not Contact.objects.filter(email="bo@example.com").exists()
    assert api.get("/api/v1/contacts/").data["count"] == 0


def test_waits_are_fast_forwarded_and_said(workspace, api):
    draft = graph(
        [
            node("start", "trigger.event", event="signup"),
            node("later", "wait.delay", amount=2, unit="days"),
            node("done", "flow.end"),
        ],
        chain(
            node("start", "trigger.event"), node("later", "wait.delay"), node("done", "flow.end")
        ),
    )
    workflow = WorkflowFactory(workspace=workspace, draft=draft)

    response = api.post(
        f"/api/v1/workflows/{workflow.pk}/preview",
        {"contact": {"email": "cy@example.com", "time_zone": "Europe/Paris"}},
        format="json",
    )

    run = finished(response.data["id"])
    said = steps_of(run.pk)[1].output["preview"]
    assert said.startswith("would wait 2 days, until ")
    assert "(Europe/Paris)" in said


def test_step_through_pauses_before_each_node_and_asks_at_a_wait_for_an_event(workspace, api):
    draft = graph(
        [
            node("start", "trigger.event", event="cart_created"),
            node(
                "order", "wait.event", event="order_placed", timeout={"amount": 4, "unit": "hours"}
            ),
            node("thanks", "action.tag", add=["buyer"]),
            node("remind", "action.tag", add=["reminded"]),
        ],
        [
            edge("start", "order"),
            edge("order", "thanks", "received"),
            edge("order", "remind", "timeout"),
        ],
    )
    workflow = WorkflowFactory(workspace=workspace, draft=draft)
    started = api.post(
        f"/api/v1/workflows/{workflow.pk}/preview", {"mode": "step"}, format="json"
    ).data
    run_id = started["id"]

    run = waiting(run_id)
    assert run.preview["paused_before"] == "start"
    assert steps_of(run_id) == []
    # Choosing at a wait the run is not at is refused.
    refused = api.post(f"/api/v1/previews/{run_id}/choose", {"handle": "timeout"}, format="json")
    assert refused.status_code == 409

    assert api.post(f"/api/v1/previews/{run_id}/next").status_code == 200
    wait_until(lambda: Run.objects.get(pk=run_id).preview.get("paused_before") == "order")
    assert [s.node_id for s in steps_of(run_id)] == ["start"]

    api.post(f"/api/v1/previews/{run_id}/next")
    wait_until(
        lambda: [s.status for s in steps_of(run_id)] == ["completed", "waiting"],
        what="the preview waits at the wait.event for the tester",
    )
    assert api.post(f"/api/v1/previews/{run_id}/next").status_code == 409
    chosen = api.post(
        f"/api/v1/previews/{run_id}/choose",
        {"handle": "received", "data": {"order_id": "o-1"}},
        format="json",
    )
    assert chosen.status_code == 200, chosen.data
    wait_until(lambda: Run.objects.get(pk=run_id).preview.get("paused_before") == "thanks")
    api.post(f"/api/v1/previews/{run_id}/next")
    run = finished(run_id)
    steps = steps_of(run_id)
    assert [s.node_id for s in steps] == ["start", "order", "thanks"]
    assert steps[1].handle == "received"
    assert steps[1].output["event"]["data"] == {"order_id": "o-1"}


def test_a_random_split_can_be_forced(workspace, api):
    draft = graph(
        [
            node("start", "trigger.event", event="signup"),
            node(
                "ab",
                "condition.split",
                branches=[{"handle": "a", "percent": 99}, {"handle": "b", "percent": 1}],
            ),
            node("got_a", "action.tag", add=["a"]),
            node("got_b", "action.tag", add=["b"]),
        ],
        [edge("start", "ab"), edge("ab", "got_a", "a"), edge("ab", "got_b", "b")],
    )
    workflow = WorkflowFactory(workspace=workspace, draft=draft)
    started = api.post(
        f"/api/v1/workflows/{workflow.pk}/preview",
        {"choices": {"ab": {"handle": "b"}}},
        format="json",
    ).data
    run = finished(started["id"])
    assert [s.node_id for s in steps_of(run.pk)] == ["start", "ab", "got_b"]


def test_a_draft_with_problems_is_refused_with_them(workspace, api):
    workflow = WorkflowFactory(
        workspace=workspace,
        draft=graph([node("start", "trigger.event", event="")], []),
    )
    response = api.post(f"/api/v1/workflows/{workflow.pk}/preview", {}, format="json")
    assert response.status_code == 409
    assert response.data["issues"][0]["node"] == "start"
    assert not Run.objects.exists()


def test_previews_are_listed_apart_and_viewers_cannot_start_one(workspace, api):
    workflow = WorkflowFactory(workspace=workspace)
    started = api.post(f"/api/v1/workflows/{workflow.pk}/preview", {}, format="json").data
    finished(started["id"])
    listed = api.get(f"/api/v1/workflows/{workflow.pk}/runs/?preview=true").data
    assert [run["id"] for run in listed["results"]] == [started["id"]]
    assert api.get(f"/api/v1/workflows/{workflow.pk}/runs/").data["count"] == 0
    viewer = key_client(workspace, Role.VIEWER)
    assert (
        viewer.post(f"/api/v1/workflows/{workflow.pk}/preview", {}, format="json").status_code
        == 403
    )
    other = key_client(WorkspaceFactory())
    assert (
        other.post(f"/api/v1/workflows/{workflow.pk}/preview", {}, format="json").status_code == 404
    )


def test_an_existing_contact_is_found_by_email_and_copied(workspace, api):
    real = Contact.objects.create(
        workspace=workspace, email="dee@example.com", properties={"first_name": "Dee"}
    )
    draft = graph(
        [
            node("start", "trigger.event", event="signup"),
            node("hi", "action.email", subject="Hi {{ contact.first_name }}", body="x"),
        ],
        chain(node("start", "trigger.event"), node("hi", "action.email")),
    )
    workflow = WorkflowFactory(workspace=workspace, draft=draft)
    started = api.post(
        f"/api/v1/workflows/{workflow.pk}/preview",
        {"contact": {"email": "DEE@example.com", "properties": {"plan": "pro"}}},
        format="json",
    ).data
    run = finished(started["id"])
    assert steps_of(run.pk)[1].output["would"]["subject"] == "Hi Dee"
    assert run.contact.properties == {"first_name": "Dee", "plan": "pro"}
    real.refresh_from_db()
    assert real.properties == {"first_name": "Dee"}
