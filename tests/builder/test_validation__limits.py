"""Limits belong in validation: what a graph asks the runtime to store must fit.

Invariants: a name the runtime stores in a bounded column (an event type in
Event.type / Run.waiting_for / Deployment.exit_event / TriggerBinding.key, a
tag, a property) is refused by validation with an issue naming the node and
the field, so publish answers 400 and nothing is published; the catalogue
shows the same limits (maxLength) the validation enforces. A duration amount
too large for any clock is an issue on that field too, never a 500.
Found by fuzzing (issue 16, point 6): each case was a 500 or a publish whose
every run then failed.
"""

from __future__ import annotations

import pytest

from automation.models import Deployment, Event, Run, TriggerBinding
from automation.nodes.base import EVENT_TYPE_MAX_LENGTH, TAG_MAX_LENGTH
from builder.models import WorkflowStatus, WorkflowVersion
from tests.builder.factories import WorkflowFactory
from tests.builder.graphs import chain, edge, graph, node

pytestmark = pytest.mark.django_db

HUGE = int("9" * 310)
LONG_NAME = "x" * 250


def tagged(middle: dict, *, handle: str | None = None, settings=None) -> dict:
    """start (signup) -> middle -> tag."""
    nodes = [node("start", "trigger.event"), middle, node("tag", "action.tag")]
    edges = [*chain("start", middle["id"]), edge(middle["id"], "tag", handle)]
    if handle == "received":
        middle.setdefault("data", {})["open_handles"] = ["timeout"]
    return graph(nodes, edges, settings)


def save_then_publish(client, workspace, draft) -> tuple[dict, dict]:
    """The draft save's body (200: work in progress is kept) and the refused publish's."""
    workflow = WorkflowFactory(workspace=workspace)
    saved = client.put(f"/api/v1/workflows/{workflow.pk}/draft", draft, format="json")
    assert saved.status_code == 200, saved.content
    published = client.post(f"/api/v1/workflows/{workflow.pk}/publish", {}, format="json")
    assert published.status_code == 409, published.content  # the stored draft refuses
    assert not WorkflowVersion.objects.filter(workflow=workflow).exists()
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.DRAFT
    return saved.json(), published.json()


def fields(issues: list[dict]) -> set[tuple[str | None, str | None]]:
    return {(issue["node"], issue["field"]) for issue in issues}


@pytest.mark.parametrize(
    ("middle", "handle", "where"),
    [
        (node("wait", "wait.delay", {"amount": HUGE, "unit": "days"}), None, "config.amount"),
        (node("wait", "wait.delay", {"amount": 1e308, "unit": "weeks"}), None, "config.amount"),
        (
            node(
                "wait", "wait.event", {"event": "buy", "timeout": {"amount": HUGE, "unit": "days"}}
            ),
            "received",
            "config.timeout.amount",
        ),
        (
            node(
                "wait",
                "wait.event",
                {
                    "event": "buy",
                    "timeout": {"amount": 1, "unit": "days"},
                    "lookback": {"amount": HUGE, "unit": "seconds"},
                },
            ),
            "received",
            "config.lookback.amount",
        ),
    ],
)
def test_a_duration_no_clock_can_hold_is_an_issue_on_its_field(
    client_a, workspace_a, middle, handle, where
):
    saved, published = save_then_publish(client_a, workspace_a, tagged(middle, handle=handle))

    assert ("wait", where) in fields(saved["issues"])
    assert ("wait", where) in fields(published["issues"])
    [message] = [i["message"] for i in published["issues"] if i["field"] == where][:1]
    assert "999999" not in message  # the rule, not the 310 digits


def test_a_wait_for_an_event_name_longer_than_stored_is_refused(client_a, workspace_a):
    wait = node(
        "wait", "wait.event", {"event": LONG_NAME, "timeout": {"amount": 1, "unit": "days"}}
    )
    _saved, published = save_then_publish(client_a, workspace_a, tagged(wait, handle="received"))

    assert ("wait", "config.event") in fields(published["issues"])
    assert not Run.objects.exists()


def test_an_exit_event_name_longer_than_stored_is_refused(client_a, workspace_a):
    """Publish was a 500: Deployment.exit_event is 200 characters."""
    draft = graph(
        [node("start", "trigger.event"), node("tag", "action.tag")],
        chain("start", "tag"),
        {"exit_when": {"event": LONG_NAME}},
    )
    _saved, published = save_then_publish(client_a, workspace_a, draft)

    [issue] = published["issues"]
    assert issue["field"] == "settings.exit_when.event"
    assert "at most 200" in issue["message"]
    assert not Deployment.objects.exists()


@pytest.mark.parametrize(
    ("trigger_type", "config", "where"),
    [
        ("trigger.event", {"event": LONG_NAME}, "config.event"),
        ("trigger.inactivity", {"event": LONG_NAME, "days": 3}, "config.event"),
        ("trigger.segment", {"tag": LONG_NAME}, "config.tag"),
        ("trigger.property", {"property": LONG_NAME}, "config.property"),
    ],
)
def test_trigger_names_longer_than_stored_are_refused(
    client_a, workspace_a, trigger_type, config, where
):
    draft = graph([node("start", trigger_type, config), node("tag", "action.tag")])
    draft["edges"] = chain("start", "tag")
    _saved, published = save_then_publish(client_a, workspace_a, draft)

    assert ("start", where) in fields(published["issues"])
    assert not TriggerBinding.objects.exists()


def test_names_at_the_limit_publish(client_a, workspace_a):
    name = "e" * EVENT_TYPE_MAX_LENGTH
    wait = node("wait", "wait.event", {"event": name, "timeout": {"amount": 1, "unit": "days"}})
    draft = tagged(wait, handle="received", settings={"exit_when": {"event": name}})
    draft["nodes"][0]["data"]["config"]["event"] = name
    workflow = WorkflowFactory(workspace=workspace_a, draft=draft)

    response = client_a.post(f"/api/v1/workflows/{workflow.pk}/publish", {}, format="json")

    assert response.status_code == 200, response.content
    assert Deployment.objects.get(workflow=workflow).exit_event == name


def test_the_limits_are_the_stored_columns_and_the_catalogue_shows_them(client_a):
    for model, column in (
        (Event, "type"),
        (Run, "waiting_for"),
        (Deployment, "exit_event"),
        (TriggerBinding, "key"),
    ):
        assert model._meta.get_field(column).max_length == EVENT_TYPE_MAX_LENGTH
    catalogue = {
        entry["type"]: entry["config_schema"]
        for entry in client_a.get("/api/v1/node-types").json()["results"]
    }
    for type_key in ("trigger.event", "trigger.inactivity", "wait.event"):
        event = catalogue[type_key]["properties"]["event"]
        assert event["maxLength"] == EVENT_TYPE_MAX_LENGTH
    assert catalogue["trigger.segment"]["properties"]["tag"]["maxLength"] == TAG_MAX_LENGTH
    assert catalogue["action.tag"]["properties"]["add"]["items"]["maxLength"] == TAG_MAX_LENGTH
    amount = catalogue["wait.delay"]["properties"]["amount"]
    assert amount["maximum"] == 3653 * 86400  # ten years in seconds, the longest duration
