"""The Failed runs page and the workflow's priority, in the browser.

A person finds the runs that failed after their retries, selects them (one
by one or all at once), retries some from the failed step and discards
others; a viewer sees them but cannot act. In the editor's workflow settings
a person sets the workflow's priority.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from automation.models import Run, RunStatus
from builder.models import Role, Workflow
from tests.builder.factories import dead_letter_run, published_workflow
from tests.conftest import wait_until
from tests.e2e.ui import log_in

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_select_all_retry_and_discard_failed_runs(page, live_server_url, editor_user):
    user = editor_user(Role.EDITOR)
    workflow = published_workflow(user.workspace, name="CRM sync")
    runs = [dead_letter_run(workflow, failed_ago=n) for n in range(3)]
    log_in(page, live_server_url, user.username, user.raw_password)

    page.get_by_role("link", name="Failed runs").click()
    page.wait_for_url("**/failed-runs/")
    rows = page.locator("table.failed-runs tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("CRM sync")
    expect(rows.first).to_contain_text("HTTP 500 from the CRM")

    page.get_by_label("Select all").check()
    expect(page.get_by_text("3 selected")).to_be_visible()
    page.get_by_label(f"Select run {str(runs[0].pk)[:8]}").uncheck()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Discard").click()
    expect(page.get_by_role("status")).to_have_text("Discarded 2 runs.")
    expect(rows).to_have_count(1)

    page.get_by_label("Select all").check()
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_have_text("Retried 1 run from the step that failed.")
    expect(page.get_by_text("No failed runs.")).to_be_visible()

    # The retried run goes on from its failed step on the worker and completes.
    wait_until(
        lambda: Run.objects.filter(pk=runs[0].pk, status=RunStatus.COMPLETED).exists(),
        what="the retried run completes",
    )
    discarded = Run.objects.filter(pk__in=[runs[1].pk, runs[2].pk])
    assert {run.status for run in discarded} == {RunStatus.CANCELLED}
    assert all(f"by {user.email}" in run.error for run in discarded)
    assert page.console_problems == []


def test_a_viewer_sees_failed_runs_but_cannot_act(page, live_server_url, editor_user):
    user = editor_user(Role.VIEWER)
    dead_letter_run(published_workflow(user.workspace, name="CRM sync"))
    log_in(page, live_server_url, user.username, user.raw_password)

    page.goto(f"{live_server_url}/failed-runs/")

    expect(page.locator("table.failed-runs tbody tr")).to_have_count(1)
    expect(page.get_by_label("Select all")).to_be_disabled()
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    expect(page.get_by_role("button", name="Discard")).to_have_count(0)


def test_the_workflow_settings_set_its_priority(page, live_server_url, editor_user):
    user = editor_user(Role.EDITOR)
    workflow = published_workflow(user.workspace, name="Password reset")
    log_in(page, live_server_url, user.username, user.raw_password)

    page.goto(f"{live_server_url}/workflows/{workflow.pk}/")
    priority = page.get_by_label("Priority")
    expect(priority).to_have_value("normal")
    priority.select_option("high")

    wait_until(
        lambda: Workflow.objects.get(pk=workflow.pk).priority == "high",
        what="the priority is saved",
    )
    page.reload()
    expect(page.get_by_label("Priority")).to_have_value("high")
    assert page.console_problems == []
