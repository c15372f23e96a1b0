"""The workflows list, roles, accessibility, shortcuts, large graphs and the admin's drawing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from builder.models import Membership, Role, Workflow, WorkflowStatus
from tests.builder.factories import WorkflowFactory
from tests.e2e.graphs import big_graph
from tests.e2e.ui import log_in

pytestmark = [pytest.mark.django_db(transaction=True)]

# Every control must have a name a screen reader can say.
UNNAMED_CONTROLS = """() => [...document.querySelectorAll(
    'button, a[href], input:not([type=hidden]), select, textarea, [role=combobox]')]
  .filter((el) => el.offsetParent !== null)
  .filter((el) => {
    const labelled = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || el.getAttribute('title') || (el.labels && el.labels.length)
      || (el.tagName === 'BUTTON' || el.tagName === 'A') && el.textContent.trim();
    return !labelled;
  })
  .map((el) => el.outerHTML.slice(0, 120))"""


def test_the_list_searches_filters_renames_and_archives(page, live_server_url, editor_user):
    user = editor_user()
    workspace = Membership.objects.get(user=user).workspace
    WorkflowFactory(workspace=workspace, name="Welcome series")
    WorkflowFactory(workspace=workspace, name="Cart rescue", status=WorkflowStatus.ACTIVE)
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    rows = page.locator("table.workflows tbody tr")
    expect(rows).to_have_count(2)

    page.get_by_label("Search workflows").fill("cart")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Cart rescue")
    page.get_by_label("Search workflows").fill("")
    page.get_by_label("Status").select_option("draft")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Welcome series")
    page.get_by_label("Status").select_option("")

    page.get_by_role("button", name="Rename Welcome series").click()
    page.get_by_role("dialog").get_by_label("Name").fill("Welcome, improved")
    page.get_by_role("dialog").get_by_role("button", name="Rename").click()
    expect(page.get_by_role("link", name="Welcome, improved")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Archive Cart rescue").click()
    expect(rows.filter(has_text="Cart rescue")).to_contain_text("archived")
    assert Workflow.objects.get(name="Cart rescue").status == WorkflowStatus.ARCHIVED
    assert page.console_problems == []


def test_a_viewer_reads_but_cannot_change(page, live_server_url, editor_user):
    user = editor_user(role=Role.VIEWER)
    workspace = Membership.objects.get(user=user).workspace
    workflow = WorkflowFactory(workspace=workspace, name="Read me", draft=big_graph(3))
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    expect(page.get_by_role("button", name="New workflow")).to_have_count(0)
    page.get_by_role("link", name="Read me").click()
    expect(page.locator(".react-flow__node")).to_have_count(3)
    expect(page.get_by_role("button", name="Add Send email")).to_be_disabled()
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    page.locator('.react-flow__node[data-id="tag_1"]').click()
    expect(page.get_by_role("button", name="Delete step")).to_be_disabled()
    page.keyboard.press("Delete")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    assert Workflow.objects.get(pk=workflow.pk).draft == big_graph(3)


def test_every_control_is_named_the_page_fits_1280px_and_shortcuts_are_listed(
    page, live_server_url, editor_user
):
    user = editor_user()
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    assert page.evaluate(UNNAMED_CONTROLS) == []
    page.get_by_role("button", name="From a template").click()
    page.get_by_role("button", name="Preview Abandoned cart recovery").click()
    page.get_by_role("button", name="Use this template").click()
    page.wait_for_url(re.compile(r"/workflows/[0-9a-f-]{36}/$"))
    expect(page.locator(".react-flow__node").first).to_be_visible()
    assert page.evaluate(UNNAMED_CONTROLS) == []
    for node_id in ("wait_order_4h", "reminder_email"):
        page.locator(f'.react-flow__node[data-id="{node_id}"]').click()
        assert page.evaluate(UNNAMED_CONTROLS) == [], node_id
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    page.keyboard.press("Escape")
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_contain_text("Undo")
    expect(help_dialog).to_contain_text("Ctrl/⌘ + V")
    page.keyboard.press("Escape")
    expect(help_dialog).to_have_count(0)
    assert page.console_problems == []


def test_a_500_node_workflow_opens_and_pans(page, live_server_url, editor_user, settings):
    user = editor_user()
    workspace = Membership.objects.get(user=user).workspace
    workflow = WorkflowFactory(workspace=workspace, name="Huge", draft=big_graph(500))
    log_in(page, live_server_url, user.username, "pw-e2e-123")
    page.goto(f"{live_server_url}/workflows/{workflow.pk}/")
    page.wait_for_function("window.__cairn && window.__cairn.nodes === 500")
    expect(page.locator(".react-flow__node").first).to_be_visible()
    box = page.locator(".react-flow__pane").bounding_box()
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 100, box["y"] + 150, steps=10)
    page.mouse.up()
    page.mouse.wheel(0, -400)
    expect(page.locator(".react-flow__node").first).to_be_visible()
    assert page.evaluate("window.__cairn.store.getState().nodes.length") == 500
    assert page.console_problems == []


def test_the_admin_draws_the_graph_read_only(page, live_server_url, admin_user):
    workflow = WorkflowFactory(name="Drawn", draft=big_graph(4))
    page.goto(f"{live_server_url}/admin/login/")
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server_url}/admin/builder/workflow/{workflow.pk}/change/")
    expect(page.locator("#cairn-readonly-root .react-flow__node")).to_have_count(4)
    expect(page.get_by_role("link", name="Open in editor")).to_have_attribute(
        "href", f"/workflows/{workflow.pk}/"
    )
    assert page.console_problems == []
