"""The workflow change page of the admin: the graph drawn read-only, Publish, Open in editor.

Invariants: the page hands the read-only canvas the stored draft and the
node catalogue; Publish goes through services.publish and names the problems
that stop it; the JSON stays editable, and editing it moves the draft revision on.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.urls import reverse

from automation.nodes.registry import all_node_types
from builder.models import Workflow, WorkflowStatus, Workspace
from tests.builder.graphs import tag_graph

pytestmark = pytest.mark.django_db

READONLY_SCRIPT = '<script type="module" src="/static/build/assets/readonly-Ro123456.js">'


@pytest.fixture(autouse=True)
def bundle(tmp_path, settings):
    path = tmp_path / "manifest.json"
    path.write_text(
        json.dumps(
            {
                "src/main.tsx": {"file": "assets/main-Ma123456.js", "isEntry": True},
                "src/readonly.tsx": {
                    "file": "assets/readonly-Ro123456.js",
                    "isEntry": True,
                    "css": ["assets/readonly-Cs123456.css"],
                },
            }
        )
    )
    settings.VITE_MANIFEST_PATH = path
    settings.STATIC_URL = "/static/"


@pytest.fixture
def workspace() -> Workspace:
    return Workspace.objects.create(name="Acme", slug="acme")


def workflow_with(workspace, graph) -> Workflow:
    return Workflow.objects.create(workspace=workspace, name="Onboarding", draft=graph)


def change_url(workflow) -> str:
    return reverse("admin:builder_workflow_change", args=[workflow.pk])


def publish_url(workflow) -> str:
    return reverse("admin:builder_workflow_publish", args=[workflow.pk])


def readonly_data(html: str) -> dict:
    match = re.search(
        r'<script id="cairn-readonly-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, "no cairn-readonly-data script on the page"
    return json.loads(match.group(1))


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, m.message) for m in get_messages(response.wsgi_request)]


def test_the_page_draws_the_draft_read_only_with_the_bundle(admin_client, workspace):
    workflow = workflow_with(workspace, tag_graph())

    html = admin_client.get(change_url(workflow)).content.decode()

    assert '<div id="cairn-readonly-root" style="height:480px"' in html
    assert READONLY_SCRIPT in html
    assert 'href="/static/build/assets/readonly-Cs123456.css"' in html
    data = readonly_data(html)
    assert data["graph"] == tag_graph()
    assert [t["type"] for t in data["nodeTypes"]] == [t.type for t in all_node_types()]
    assert {"type", "label", "category", "handles", "config_schema"} <= set(data["nodeTypes"][0])


def test_the_page_links_to_the_editor(admin_client, workspace):
    workflow = workflow_with(workspace, tag_graph())

    html = admin_client.get(change_url(workflow)).content.decode()

    assert f'<a href="/workflows/{workflow.pk}/">Open in editor</a>' in html


def test_the_json_draft_is_kept_in_a_collapsed_section(admin_client, workspace):
    workflow = workflow_with(workspace, tag_graph())

    response = admin_client.get(change_url(workflow))

    fieldsets = response.context["adminform"].model_admin.get_fieldsets(response.wsgi_request)
    json_section = next(opts for _name, opts in fieldsets if "draft" in opts["fields"])
    assert "collapse" in json_section["classes"]
    assert 'name="draft"' in response.content.decode()


def test_publish_from_the_button_creates_version_1(admin_client, workspace, admin_user):
    workflow = workflow_with(workspace, tag_graph())
    assert "Publish</button>" in admin_client.get(change_url(workflow)).content.decode()

    response = admin_client.post(publish_url(workflow))

    assert response.status_code == 302
    assert response["Location"] == change_url(workflow)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.ACTIVE
    version = workflow.versions.get()
    assert (version.number, version.published_by) == (1, admin_user)
    assert messages_of(response) == [(SUCCESS, "Published “Onboarding” as version 1.")]


def test_publishing_a_draft_with_problems_names_them_and_publishes_nothing(admin_client, workspace):
    graph = tag_graph()
    graph["nodes"][0]["data"]["config"] = {}  # the trigger names no event
    workflow = workflow_with(workspace, graph)

    response = admin_client.post(publish_url(workflow), follow=True)

    assert response.status_code == 200
    [(level, text)] = [(m.level, m.message) for m in response.context["messages"]]
    assert level == ERROR
    assert text.startswith("Could not publish “Onboarding”: the draft has problems")
    assert "Node 'start': config.event is required" in text
    assert text in unescape(response.content.decode())  # shown on the change page
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.DRAFT
    assert not workflow.versions.exists()


def test_publish_is_a_post(admin_client, workspace):
    workflow = workflow_with(workspace, tag_graph())

    assert admin_client.get(publish_url(workflow)).status_code == 403
    assert not workflow.versions.exists()


def test_an_archived_workflow_offers_no_publish_button(admin_client, workspace):
    workflow = workflow_with(workspace, tag_graph())
    workflow.status = WorkflowStatus.ARCHIVED
    workflow.save()

    html = admin_client.get(change_url(workflow)).content.decode()

    assert "Publish</button>" not in html
    assert "Open in editor" in html


def test_without_a_bundle_the_page_says_how_to_build_it(
    admin_client, workspace, settings, tmp_path
):
    settings.VITE_MANIFEST_PATH = tmp_path / "missing.json"
    workflow = workflow_with(workspace, tag_graph())

    response = admin_client.get(change_url(workflow))

    assert response.status_code == 200
    assert "The canvas bundle is not built" in response.content.decode()
