"""The runs list of the admin with preview runs in it.

Invariant: a preview run runs the draft it was started on and has no
version; the runs list and its page still render (a 500 before: the list
read `run.version.number` of every row).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from automation.models import Contact, Run, RunStatus
from builder import services
from builder.models import Workflow, Workspace
from tests.builder.graphs import tag_graph

pytestmark = pytest.mark.django_db


@pytest.fixture
def preview_run() -> Run:
    workspace = Workspace.objects.create(name="Acme", slug="acme")
    workflow = Workflow.objects.create(workspace=workspace, name="Onboarding", draft=tag_graph())
    services.publish(workflow)
    contact = Contact.objects.create(workspace=workspace, email="ann@example.com")
    published = Run.objects.create(
        workspace=workspace,
        workflow=workflow,
        version=workflow.latest_version,
        contact=contact,
        trigger_node="start",
        status=RunStatus.COMPLETED,
    )
    preview = Run.objects.create(
        workspace=workspace,
        workflow=workflow,
        version=None,
        contact=contact,
        trigger_node="start",
        status=RunStatus.COMPLETED,
        is_preview=True,
    )
    assert published.version is not None
    return preview


def test_the_runs_list_renders_with_a_preview_run(admin_client, preview_run):
    response = admin_client.get(reverse("admin:automation_run_changelist"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "draft (preview)" in page
    assert ">1<" in page  # the published run's version number still shows


def test_the_runs_list_sorted_by_version_renders_with_a_preview_run(admin_client, preview_run):
    response = admin_client.get(reverse("admin:automation_run_changelist") + "?o=3")

    assert response.status_code == 200


def test_a_preview_runs_page_renders(admin_client, preview_run):
    response = admin_client.get(reverse("admin:automation_run_change", args=[preview_run.pk]))

    assert response.status_code == 200
