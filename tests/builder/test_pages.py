"""The app's own pages: log in, pick a workspace, the canvas shell.

Invariants: a workspace member needs no staff flag to use the app; nobody
reaches a workspace they are not a member of; the shell hands the React app
exactly the workspace and role the API will enforce.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from builder.models import Role
from tests.builder.factories import MembershipFactory, UserFactory, WorkflowFactory

PASSWORD = "correct horse battery"
ENTRY_SCRIPT = '<script type="module" src="/static/build/assets/main-Test1234.js"></script>'

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def bundle(tmp_path, settings):
    """A built bundle: the pages name the hashed entry file from its manifest."""
    path = tmp_path / "manifest.json"
    path.write_text(
        json.dumps({"src/main.tsx": {"file": "assets/main-Test1234.js", "isEntry": True}})
    )
    settings.VITE_MANIFEST_PATH = path
    settings.STATIC_URL = "/static/"


def person(*memberships, staff: bool = False):
    """A user (not staff unless asked) with a password, member of (workspace, role) pairs."""
    user = UserFactory(is_staff=staff)
    user.set_password(PASSWORD)
    user.save()
    for workspace, role in memberships:
        MembershipFactory(workspace=workspace, user=user, role=role)
    return user


def config_of(response) -> dict:
    match = re.search(
        r'<script id="cairn-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "the page has no cairn-config script"
    return json.loads(match.group(1))


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ---------------------------------------------------------------- logging in


def test_the_login_page_has_labelled_fields_and_a_log_in_button(client):
    html = client.get("/login/").content.decode()

    assert '<label for="id_username">Username</label>' in html
    assert 'id="id_username"' in html
    assert '<label for="id_password">Password</label>' in html
    assert 'type="password" name="password" id="id_password"' in html
    assert ">Log in</button>" in html


def test_a_non_staff_member_logs_in_and_lands_on_the_workflows(client, workspace_a):
    user = person((workspace_a, Role.EDITOR))
    assert not user.is_staff

    response = client.post("/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/workflows/"
    page = client.get("/workflows/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<div id="root"></div>' in html
    assert ENTRY_SCRIPT in html
    assert config_of(page)["workspace"] == {"slug": "acme", "name": "Acme"}


def test_a_wrong_password_stays_on_the_login_page_with_a_message(client, workspace_a):
    user = person((workspace_a, Role.EDITOR))

    response = client.post("/login/", {"username": user.username, "password": "nope"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_goes_back_to_the_page_asked_for(client, workspace_a):
    user = person((workspace_a, Role.EDITOR))
    workflow = WorkflowFactory(workspace=workspace_a)

    response = client.post(
        "/login/",
        {"username": user.username, "password": PASSWORD, "next": f"/workflows/{workflow.pk}/"},
    )

    assert response["Location"] == f"/workflows/{workflow.pk}/"


@pytest.mark.parametrize("path", ["/workflows/", "/workspaces/", "/workflows/{uuid}/"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    path = path.format(uuid="4c0f2c1e-58a5-4a8e-9d43-3f4cb58bd4a1")

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_log_out_is_a_post_and_ends_the_session(workspace_a):
    client = logged_in(person((workspace_a, Role.EDITOR)))

    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/workflows/")["Location"].startswith("/login/")


# ---------------------------------------------------------------- home page


def test_the_home_page_invites_anonymous_visitors_to_log_in(client):
    html = client.get("/").content.decode()

    assert 'href="/login/"' in html
    assert "Log in" in html


def test_the_home_page_sends_members_to_their_workflows(workspace_a):
    client = logged_in(person((workspace_a, Role.VIEWER)))

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/workflows/"


# ---------------------------------------------------------------- workspaces


def test_with_two_workspaces_the_person_picks_one_first(workspace_a, workspace_b):
    client = logged_in(person((workspace_a, Role.VIEWER), (workspace_b, Role.PUBLISHER)))

    assert client.get("/workflows/")["Location"] == "/workspaces/"
    picker = client.get("/workspaces/").content.decode()
    assert 'value="acme"' in picker
    assert 'value="bravo"' in picker
    assert "Acme" in picker and "Bravo" in picker

    response = client.post("/workspaces/", {"workspace": "bravo"})

    assert response.status_code == 302
    assert response["Location"] == "/workflows/"
    config = config_of(client.get("/workflows/"))
    assert config["workspace"] == {"slug": "bravo", "name": "Bravo"}
    assert config["role"] == "publisher"
    assert config["workspaces"] == [
        {"slug": "acme", "name": "Acme"},
        {"slug": "bravo", "name": "Bravo"},
    ]


def test_the_picker_can_switch_back_later(workspace_a, workspace_b):
    client = logged_in(person((workspace_a, Role.VIEWER), (workspace_b, Role.PUBLISHER)))
    client.post("/workspaces/", {"workspace": "bravo"})

    client.post("/workspaces/", {"workspace": "acme"})

    config = config_of(client.get("/workflows/"))
    assert config["workspace"]["slug"] == "acme"
    assert config["role"] == "viewer"


def test_with_one_workspace_it_is_chosen_without_asking(workspace_a):
    client = logged_in(person((workspace_a, Role.EDITOR)))

    assert client.get("/workflows/").status_code == 200
    assert client.get("/workspaces/")["Location"] == "/workflows/"


def test_a_person_without_a_workspace_is_told_so(client):
    client = logged_in(person())

    response = client.get("/workflows/", follow=True)

    assert response.redirect_chain == [("/workspaces/", 302)]
    assert "You are not a member of any workspace" in response.content.decode()


def test_nobody_can_choose_a_workspace_they_are_not_a_member_of(workspace_a, workspace_b):
    client = logged_in(person((workspace_a, Role.ADMIN)))

    response = client.post("/workspaces/", {"workspace": "bravo"})

    assert response.status_code == 404
    assert config_of(client.get("/workflows/"))["workspace"]["slug"] == "acme"


def test_a_workflow_of_another_workspace_is_not_found(workspace_a, workspace_b):
    client = logged_in(person((workspace_a, Role.ADMIN)))
    theirs = WorkflowFactory(workspace=workspace_b)

    assert client.get(f"/workflows/{theirs.pk}/").status_code == 404
    assert client.get("/workflows/4c0f2c1e-58a5-4a8e-9d43-3f4cb58bd4a1/").status_code == 404


def test_a_link_to_a_workflow_opens_it_in_its_own_workspace(workspace_a, workspace_b):
    client = logged_in(person((workspace_a, Role.VIEWER), (workspace_b, Role.EDITOR)))
    client.post("/workspaces/", {"workspace": "acme"})
    workflow = WorkflowFactory(workspace=workspace_b)

    config = config_of(client.get(f"/workflows/{workflow.pk}/"))

    assert config["workflowId"] == str(workflow.pk)
    assert config["workspace"]["slug"] == "bravo"
    assert config["role"] == "editor"


# ---------------------------------------------------------------- what the app is given


def test_the_app_config_names_the_user_role_urls_and_csrf_token(workspace_a):
    user = person((workspace_a, Role.EDITOR))
    client = logged_in(user)

    config = config_of(client.get("/workflows/"))

    assert config["user"] == {"username": user.username}
    assert config["role"] == "editor"
    assert config["workflowId"] is None
    assert config["urls"] == {
        "logout": "/logout/",
        "workspaces": "/workspaces/",
        "admin": None,
        "apiDocs": "/api/docs/",
        "failedRuns": "/failed-runs/",
    }
    assert config["page"] is None
    assert config["csrfToken"]


def test_the_failed_runs_page_is_the_app_on_its_page(workspace_a):
    client = logged_in(person((workspace_a, Role.VIEWER)))

    response = client.get("/failed-runs/")

    assert response.status_code == 200
    config = config_of(response)
    assert config["page"] == "failed-runs"
    assert config["workflowId"] is None


def test_staff_get_a_link_to_the_admin(workspace_a):
    client = logged_in(person((workspace_a, Role.ADMIN), staff=True))

    assert config_of(client.get("/workflows/"))["urls"]["admin"] == "/admin/"


def test_the_shell_is_the_app_alone_without_the_site_header(workspace_a):
    client = logged_in(person((workspace_a, Role.EDITOR)))

    html = client.get("/workflows/").content.decode()

    assert 'class="site"' not in html
    assert html.count("<script") == 2  # the config and the entry


def test_without_a_bundle_the_shell_says_how_to_build_it(workspace_a, settings, tmp_path):
    settings.VITE_MANIFEST_PATH = tmp_path / "missing.json"
    client = logged_in(person((workspace_a, Role.EDITOR)))

    response = client.get("/workflows/")

    assert response.status_code == 200
    assert "The canvas bundle is not built" in response.content.decode()


def test_a_non_staff_editor_uses_the_api_with_the_page_csrf_token(workspace_a, workspace_b):
    """What the app does: session cookie + the config's CSRF token + the workspace header."""
    user = person((workspace_a, Role.EDITOR), (workspace_b, Role.VIEWER))
    client = Client(enforce_csrf_checks=True)
    login_page = client.get("/login/")
    token = login_page.cookies["csrftoken"].value
    client.post(
        "/login/",
        {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    client.post(
        "/workspaces/",
        {"workspace": "acme", "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
    )
    config = config_of(client.get("/workflows/"))
    headers = {"X-CSRFToken": config["csrfToken"], "X-Cairn-Workspace": config["workspace"]["slug"]}

    created = client.post(
        "/api/v1/workflows/", {"name": "Welcome"}, content_type="application/json", headers=headers
    )
    refused = client.post(
        "/api/v1/workflows/",
        {"name": "Welcome"},
        content_type="application/json",
        headers={**headers, "X-Cairn-Workspace": "bravo"},
    )

    assert created.status_code == 201, created.content
    assert refused.status_code == 403
    assert "viewer" in refused.json()["detail"]


def test_every_page_has_a_favicon(client):
    """Browsers ask for /favicon.ico on every page (the admin and API docs too): never a 404."""
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    assert '<link rel="icon" type="image/svg+xml" href="/favicon.ico">' in (
        client.get("/login/").content.decode()
    )
