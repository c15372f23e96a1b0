"""The editor never loses work: network failures, refused graphs, closing the tab."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from builder.models import Workflow
from tests.e2e.ui import Ui, log_in

pytestmark = [pytest.mark.django_db(transaction=True)]
DRAFT_URL = re.compile(r"/api/v1/workflows/[0-9a-f-]+/draft$")


def new_workflow(page, live_server_url, editor_user, name="Robust") -> Ui:
    user = editor_user()
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    ui = Ui(page)
    page.get_by_role("button", name="New workflow").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    return ui


def workflow_of(page) -> Workflow:
    return Workflow.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[-1])


def test_a_failed_autosave_is_shown_and_retried_until_it_lands(page, live_server_url, editor_user):
    ui = new_workflow(page, live_server_url, editor_user)
    page.route(DRAFT_URL, lambda route: route.abort("connectionreset"))
    ui.drop("Event received", 250, 60)
    ui.fill(ui.panel().get_by_label("Event *"), "signup")
    state = page.locator(".save-state")
    expect(state).to_have_attribute("data-state", "offline")
    expect(state).to_contain_text("Retrying")
    assert workflow_of(page).draft["nodes"] == []

    page.unroute(DRAFT_URL)
    ui.saved(timeout=20_000)
    assert workflow_of(page).draft["nodes"][0]["data"]["config"]["event"] == "signup"


def test_a_graph_the_server_refuses_stays_in_the_browser(page, live_server_url, editor_user):
    ui = new_workflow(page, live_server_url, editor_user)
    ui.drop("Send email", 250, 60)
    ui.fill(ui.panel().get_by_label("Subject *"), "Hello")
    ui.saved()
    # Bigger than GRAPH_MAX_BYTES: the server refuses the whole draft with a 400.
    huge = "x" * 600_000
    ui.panel().get_by_label("Message *").fill(huge)
    state = page.locator(".save-state")
    expect(state).to_have_attribute("data-state", "error")
    expect(state).to_contain_text("Not saved")
    assert "body" not in workflow_of(page).draft["nodes"][0]["data"]["config"]

    # Even after a reload the work is still here, offered back.
    page.reload()
    banner = page.get_by_role("alert").filter(has_text="were not saved")
    expect(banner).to_be_visible()
    banner.get_by_role("button", name="Restore my changes").click()
    ui.node("action_email").click()
    expect(ui.panel().get_by_label("Message *")).to_have_value(huge)
    page.console_problems.clear()  # the 400s are the point of this test


def test_closing_the_tab_with_unsaved_changes_asks_first(page, live_server_url, editor_user):
    ui = new_workflow(page, live_server_url, editor_user)
    page.route(DRAFT_URL, lambda route: route.abort("connectionreset"))
    ui.drop("Event received", 250, 60)
    expect(page.locator(".save-state")).not_to_have_attribute("data-state", "saved")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.close(run_before_unload=True)
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    page.console_problems.clear()


def test_copy_in_one_workflow_and_paste_into_another(page, live_server_url, editor_user):
    ui = new_workflow(page, live_server_url, editor_user, name="Source")
    ui.drop("Send email", 250, 60)
    ui.fill(ui.panel().get_by_label("Subject *"), "Copied subject")
    ui.saved()
    ui.node("action_email").click()
    page.keyboard.press("Control+c")
    expect(page.locator(".toast")).to_contain_text("Copied 1 step")

    page.goto(page.url.rsplit("/workflows/", 1)[0] + "/workflows/")
    page.get_by_role("button", name="New workflow").click()
    page.get_by_label("Name").fill("Target")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    page.locator(".react-flow__pane").click()
    page.keyboard.press("Control+v")
    expect(page.locator(".react-flow__node")).to_have_count(1)
    ui.saved()
    config = workflow_of(page).draft["nodes"][0]["data"]["config"]
    assert config["subject"] == "Copied subject"
