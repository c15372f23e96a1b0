"""Preview and live monitoring in the browser: nodes light up as steps happen."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from automation.models import Contact, Run
from builder.models import ApiKey, Workflow
from tests.e2e.test_app import UNNAMED_CONTROLS
from tests.e2e.ui import Ui, log_in

pytestmark = [pytest.mark.django_db(transaction=True)]


def from_template(page, name: str) -> Workflow:
    page.get_by_role("button", name="From a template").click()
    page.get_by_role("button", name=f"Preview {name}").click()
    page.get_by_role("button", name="Use this template").click()
    page.wait_for_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    expect(page.locator(".react-flow__node").first).to_be_visible()
    return Workflow.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[-1])


def test_step_through_a_preview_of_a_template(page, live_server_url, editor_user, outbox):
    user = editor_user()
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    ui = Ui(page)
    workflow = from_template(page, "Abandoned cart recovery")
    panel = page.get_by_role("tabpanel", name="Preview")

    page.get_by_role("tab", name="Preview").click()
    assert page.evaluate(UNNAMED_CONTROLS) == []
    panel.get_by_label("Trigger event data (JSON)").fill(
        '{"cart_url": "https://shop.example/cart/9", "total": 80}'
    )
    panel.get_by_label("Step through: pause before each step").check()
    panel.get_by_role("button", name="Run preview").click()

    # Paused before the trigger: nothing has run, the trigger is the current node.
    expect(panel.get_by_text("Paused before cart_created.")).to_be_visible()
    expect(ui.node("cart_created").locator(".cairn-node")).to_have_class(re.compile(r"\bcurrent\b"))
    panel.get_by_role("button", name="Next step").click()
    expect(panel.get_by_text("Paused before wait_order_4h.")).to_be_visible()
    expect(ui.node("cart_created").locator(".cairn-node")).to_have_class(re.compile(r"\bon-path\b"))
    panel.get_by_role("button", name="Next step").click()

    # At the wait for an order the tester decides: it times out.
    panel.get_by_role("button", name="It times out").click()
    expect(panel.get_by_text("Paused before reminder_email.")).to_be_visible()
    panel.get_by_role("button", name="Next step").click()
    email = panel.get_by_label("Email it would send")
    expect(email).to_contain_text("You left something in your cart")
    expect(email).to_contain_text("https://shop.example/cart/9")
    expect(email).to_contain_text("ada@example.com")
    steps = panel.locator(".step-list > li")
    expect(steps).to_have_count(3)
    expect(steps.nth(1)).to_contain_text("timeout")
    for node_id in ("cart_created", "wait_order_4h", "reminder_email"):
        expect(ui.node(node_id).locator(".cairn-node")).to_have_class(re.compile(r"\bon-path\b"))
    expect(ui.node("ordered").locator(".cairn-node")).not_to_have_class(re.compile(r"\bon-path\b"))

    # Nothing real: no mail, no real contact, not counted.
    assert outbox.messages == []
    assert not Contact.objects.filter(email="ada@example.com").exists()
    assert Run.objects.filter(workflow=workflow, is_preview=False).count() == 0
    assert page.console_problems == []


def test_a_preview_of_a_draft_with_problems_is_refused(page, live_server_url, editor_user):
    user = editor_user()
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    ui = Ui(page)
    page.get_by_role("button", name="New workflow").click()
    page.get_by_label("Name").fill("Broken")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    ui.drop("Wait for event", 250, 100)
    ui.saved()
    page.get_by_role("tab", name="Preview").click()
    panel = page.get_by_role("tabpanel", name="Preview")
    expect(panel.get_by_role("button", name="Run preview")).to_be_disabled()
    expect(panel).to_contain_text("to preview")


def test_counts_change_live_as_events_arrive(page, live_server_url, editor_user, celery_worker):
    user = editor_user()
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    ui = Ui(page)
    workflow = from_template(page, "Welcome series")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".pill")).to_have_text("Active")
    trigger = workflow.draft["nodes"][0]["id"]
    counts = ui.node(trigger).get_by_test_id("node-counts")
    expect(counts).to_contain_text("0 in")

    _key, raw = ApiKey.objects.create_key(user.workspace, "e2e")
    for n in range(3):
        response = httpx.post(
            f"{live_server_url}/api/v1/events",
            headers={"Authorization": f"Bearer {raw}"},
            json={"id": f"s-{n}", "type": "signup", "contact": {"email": f"p{n}@example.com"}},
        )
        assert response.status_code == 202, response.text
    # Pushed over the WebSocket: no reload, and quicker than the polling fallback.
    expect(counts).to_contain_text("3 in", timeout=10_000)

    page.get_by_role("tab", name="Runs").click()
    runs = page.get_by_role("tabpanel", name="Runs")
    assert page.evaluate(UNNAMED_CONTROLS) == []
    expect(runs.locator(".run-list > li")).to_have_count(3)
    runs.get_by_label("Contact").fill("p1@")
    expect(runs.locator(".run-list > li")).to_have_count(1)
    runs.get_by_role("button", name="Open the run of p1@example.com").click()
    expect(runs.locator(".step-list > li").first).to_be_visible()
    expect(ui.node(trigger).locator(".cairn-node")).to_have_class(re.compile(r"\bon-path\b"))
    assert page.console_problems == []
