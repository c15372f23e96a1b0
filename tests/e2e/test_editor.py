"""The canvas in a real browser (Debian's Chromium) against the real server, as marketers use it."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from automation.models import Contact
from builder.models import ApiKey, Workflow, WorkflowStatus
from tests.e2e.ui import Ui, log_in

pytestmark = [pytest.mark.django_db(transaction=True)]

# A scripted marketer builds the abandoned-cart workflow in at most this many actions.
ACTION_BUDGET = 40


def open_new_workflow(ui: Ui, name: str) -> str:
    ui.click(ui.page.get_by_role("button", name="New workflow"))
    ui.fill(ui.page.get_by_label("Name"), name)
    ui.click(ui.page.get_by_role("button", name="Create"))
    ui.page.wait_for_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    return ui.page.url.rstrip("/").rsplit("/", 1)[-1]


def test_build_the_abandoned_cart_workflow_from_blank_and_watch_it_run(
    page, live_server_url, editor_user, celery_worker
):
    user = editor_user()
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    ui = Ui(page)
    workflow_id = open_new_workflow(ui, "Cart rescue")
    panel = ui.panel()

    ui.drop("Event received", 250, 60)
    ui.fill(panel.get_by_label("Event *"), "cart_created")

    ui.drop("Wait for event", 250, 190)
    ui.fill(panel.get_by_label("Event *"), "order_placed")
    ui.fill(panel.get_by_label("Give up after: amount"), "4")
    ui.select(panel.get_by_label("Give up after: unit"), "hours")
    ui.connect("trigger_event", "out", "wait_event")

    # The wait's two paths are not connected yet: the server says so, on the node.
    expect(ui.node("wait_event").locator(".cairn-node-badge")).to_have_text("2")
    expect(page.get_by_role("region", name="Problems")).to_contain_text("wait_event")
    expect(page.get_by_role("button", name="Publish")).to_be_disabled()

    ui.drop("Add or remove tags", 150, 330)
    ui.fill(panel.get_by_label("Add tags", exact=True), "recovered")
    ui.press(panel.get_by_label("Add tags", exact=True), "Enter")
    ui.connect("wait_event", "received", "action_tag")

    ui.drop("If / else", 450, 330)
    ui.click(panel.get_by_role("button", name="+ Add rule"))
    ui.fill(panel.get_by_label("Rule 1 field"), "event.data.total")
    ui.select(panel.get_by_label("Rule 1 operator"), "gte")
    ui.fill(panel.get_by_label("Rule 1 value"), "50")
    ui.connect("wait_event", "timeout", "condition_if")

    ui.drop("Send email", 450, 470)
    ui.fill(panel.get_by_label("Subject *"), "You left something behind")
    ui.fill(panel.get_by_label("Message *"), "Hi {{ contact.first_name }}, finish your order.")
    ui.connect("condition_if", "yes", "action_email")

    ui.drop("End", 150, 470)
    ui.connect("action_tag", "out", "flow_end")
    ui.connect("action_email", "out", "flow_end")
    ui.click(ui.node("condition_if"))
    ui.click(panel.get_by_label("no ends the run"))

    # Every problem is gone, from the node and the list.
    expect(page.get_by_role("region", name="Problems")).to_contain_text("No problems")
    expect(page.locator(".cairn-node-badge")).to_have_count(0)
    ui.saved()
    ui.click(page.get_by_role("button", name="Publish"))
    expect(page.locator(".pill")).to_have_text("Active")
    assert ui.actions <= ACTION_BUDGET, f"{ui.actions} actions"
    print(f"\nabandoned cart built from blank in {ui.actions} UI actions")

    # Reload: everything as it was left.
    page.reload()
    expect(page.locator(".react-flow__node")).to_have_count(6)
    # Edges are drawn once their nodes are measured: wait for them, do not sample.
    expect(page.locator(".react-flow__edge")).to_have_count(6)
    expect(ui.node("wait_event")).to_contain_text("Wait for order_placed, up to 4 hours")
    expect(ui.node("condition_if")).to_contain_text("If event.data.total ≥ 50")
    expect(ui.node("action_email")).to_contain_text("Email: You left something behind")
    expect(ui.node("action_tag")).to_contain_text("Tags +recovered")
    expect(page.get_by_text("v1", exact=True)).to_be_visible()
    stored = Workflow.objects.get(pk=workflow_id)
    assert stored.status == WorkflowStatus.ACTIVE
    assert stored.versions.get().graph["nodes"] == stored.draft["nodes"]

    # An event sent through the API shows up in the node counts without a reload.
    _key, raw = ApiKey.objects.create_key(stored.workspace, "e2e")
    response = httpx.post(
        f"{live_server_url}/api/v1/events",
        headers={"Authorization": f"Bearer {raw}"},
        json={
            "id": "cart-1",
            "type": "cart_created",
            "contact": {"email": "ada@example.com"},
            "data": {"total": 80},
        },
    )
    assert response.status_code == 202, response.text
    expect(ui.node("trigger_event").get_by_test_id("node-counts")).to_contain_text(
        "1 in", timeout=20_000
    )
    expect(ui.node("wait_event").get_by_test_id("node-counts")).to_contain_text(
        "1 waiting", timeout=20_000
    )
    assert page.console_problems == []


def test_a_template_publish_undo_redo_and_restore_an_earlier_version(
    page, live_server_url, editor_user
):
    user = editor_user()
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    ui = Ui(page)
    page.get_by_role("button", name="From a template").click()
    page.get_by_role("button", name="Preview Welcome series").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator(".react-flow__node").first).to_be_visible()
    read_only_count = dialog.locator(".react-flow__node").count()
    dialog.get_by_role("button", name="Use this template").click()
    page.wait_for_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    nodes = page.locator(".react-flow__node")
    expect(nodes).to_have_count(read_only_count)
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".pill")).to_have_text("Active")

    # Delete a step, undo, redo.
    victim = nodes.last
    victim_id = victim.get_attribute("data-id")
    victim.click()
    page.keyboard.press("Delete")
    expect(nodes).to_have_count(read_only_count - 1)
    page.keyboard.press("Control+z")
    expect(nodes).to_have_count(read_only_count)
    expect(ui.node(victim_id)).to_be_visible()
    page.get_by_role("button", name="Redo").click()
    expect(nodes).to_have_count(read_only_count - 1)
    ui.saved()
    workflow = Workflow.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[-1])
    assert victim_id not in {node["id"] for node in workflow.draft["nodes"]}

    # Restore version 1 into the draft: the step is back, and stays back after a reload.
    page.get_by_role("button", name="Versions").click()
    page.get_by_role("button", name="View version 1").click()
    expect(page.get_by_role("dialog").locator(".react-flow__node")).to_have_count(read_only_count)
    page.get_by_role("button", name="Restore version 1 into the draft").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(nodes).to_have_count(read_only_count)
    page.reload()
    expect(nodes).to_have_count(read_only_count)
    assert page.console_problems == []


def test_a_stale_tab_is_told_and_chooses_to_overwrite_or_reload(page, live_server_url, editor_user):
    user = editor_user()
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    ui = Ui(page)
    workflow_id = open_new_workflow(ui, "Two tabs")
    ui.drop("Event received", 250, 60)
    ui.fill(ui.panel().get_by_label("Event *"), "signup")
    ui.saved()

    other = page.context.new_page()
    other.goto(page.url)
    other_ui = Ui(other)
    expect(other_ui.node("trigger_event")).to_be_visible()

    # Tab 1 saves a change; tab 2, still on the old revision, then edits.
    ui.fill(ui.panel().get_by_label("Event *"), "signup_completed")
    ui.saved()
    other_ui.node("trigger_event").click()
    other.get_by_label("Name on the canvas").fill("From tab two")
    banner = other.get_by_role("alert").filter(has_text="changed in another tab")
    expect(banner).to_be_visible()
    stored = Workflow.objects.get(pk=workflow_id).draft["nodes"][0]["data"]
    assert stored["config"]["event"] == "signup_completed", "a stale save must not overwrite"
    assert "label" not in stored

    banner.get_by_role("button", name="Overwrite with mine").click()
    other_ui.saved()
    draft = Workflow.objects.get(pk=workflow_id).draft
    assert draft["nodes"][0]["data"]["label"] == "From tab two"

    # The first tab is now the stale one; it reloads the other version instead.
    ui.fill(ui.panel().get_by_label("Event *"), "signup_again")
    banner = page.get_by_role("alert").filter(has_text="changed in another tab")
    expect(banner).to_be_visible()
    banner.get_by_role("button", name="Reload their version").click()
    expect(ui.node("trigger_event")).to_contain_text("From tab two")
    other.close()


def test_the_side_panel_helps_with_templates_rules_and_splits(page, live_server_url, editor_user):
    user = editor_user()
    Contact.objects.create(
        workspace=user.workspace, email="known@example.com", properties={"plan": "pro"}
    )
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    ui = Ui(page)
    open_new_workflow(ui, "Helpers")
    panel = ui.panel()

    # {{ completion in an email body.
    ui.drop("Send email", 250, 60)
    body = panel.get_by_label("Message *")
    body.press_sequentially("Hi {{ first")
    options = page.get_by_role("listbox", name="Variables for Message")
    expect(options.get_by_role("option", name="contact.first_name")).to_be_visible()
    body.press("Enter")
    expect(body).to_have_value("Hi {{ contact.first_name }}")

    # The rule builder offers the workspace's known contact properties.
    ui.drop("If / else", 250, 220)
    panel.get_by_role("button", name="+ Add rule").click()
    field_list = panel.locator("datalist option[value='contact.properties.plan']")
    expect(field_list).to_have_count(1)
    panel.get_by_label("Rule 1 field").fill("contact.properties.plan")
    panel.get_by_label("Rule 1 value").fill("pro")
    expect(ui.node("condition_if")).to_contain_text("If plan = pro")

    # Split percentages must add up to 100; each path is a handle on the node.
    ui.drop("A/B split", 250, 380)
    panel.get_by_label("Path 1 percent").fill("70")
    expect(panel.get_by_role("alert").filter(has_text="add up to 120")).to_be_visible()
    panel.get_by_label("Path 2 percent").fill("20")
    panel.get_by_role("button", name="+ Add path").click()
    panel.get_by_label("Path 3 percent").fill("10")
    expect(panel.get_by_text("Total: 100% ✓")).to_be_visible()
    expect(ui.node("condition_split")).to_contain_text("Split a 70% / b 20% / c 10%")
    expect(ui.handle("condition_split", "c")).to_be_visible()
    ui.saved()
    assert page.console_problems == []


def test_notify_and_task_offer_the_workspace_connections_of_their_channel(
    page, live_server_url, editor_user
):
    from integrations.models import Connection

    user = editor_user()
    for provider, name in [("slack", "Team Slack"), ("jira", "Support Jira")]:
        Connection.objects.create(workspace=user.workspace, provider=provider, name=name)
    slack, jira = (
        Connection.objects.get(workspace=user.workspace, provider=p) for p in ("slack", "jira")
    )
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    ui = Ui(page)
    workflow_id = open_new_workflow(ui, "Channels")
    panel = ui.panel()

    ui.drop("Notify the team", 250, 60)
    where = panel.get_by_label("Where", exact=True)
    expect(where).to_have_value("inbox")
    expect(panel.get_by_label("Slack channel")).to_have_count(0)
    ui.select(where, str(slack.pk))
    ui.fill(panel.get_by_label("Slack channel", exact=True), "#success")
    ui.fill(panel.get_by_label("Message *"), "Big order")

    ui.drop("Create a task", 250, 200)
    expect(panel.get_by_label("Connection")).to_have_count(0)
    ui.select(panel.get_by_label("Create it in"), "jira")
    connection = panel.get_by_label("Connection", exact=True)
    expect(connection.locator("option", has_text="Support Jira")).to_have_count(1)
    expect(connection.locator("option", has_text="Team Slack")).to_have_count(0)
    ui.select(connection, str(jira.pk))
    ui.fill(panel.get_by_label("Task *"), "Call back")
    ui.saved()

    configs = {
        node["type"]: node["data"]["config"]
        for node in Workflow.objects.get(pk=workflow_id).draft["nodes"]
    }
    assert configs["action.notify"] == {
        "channel": str(slack.pk),
        "slack_channel": "#success",
        "message": "Big order",
    }
    assert configs["action.task"] == {
        "system": "jira",
        "connection": str(jira.pk),
        "title": "Call back",
    }
