"""Who may call the API, in which workspace, with which role.

Invariants: an API key acts only in its own workspace with its own role; a
session acts in a workspace it is a member of (membership decides, even for
a superuser); a refused write changes nothing.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from automation.models import Contact, Run, RunStatus
from builder.models import ApiKey, Role, Workflow, WorkflowStatus
from tests.builder.factories import (
    MembershipFactory,
    RunFactory,
    UserFactory,
    WorkflowFactory,
    make_api_key,
    published_workflow,
    signup_graph,
)

pytestmark = pytest.mark.django_db

CSRF_SECRET = "a" * 32


# ---------------------------------------------------------------- API keys


def test_no_credentials_is_a_401_asking_for_a_bearer_key(workspace_a):
    response = APIClient().get("/api/v1/workflows/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer cairn_not-a-key", "Bearer", "Bearer one two"],
    ids=["unknown", "empty", "two-words"],
)
def test_a_bad_key_is_a_401(workspace_a, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/workflows/")

    assert response.status_code == 401


def test_unknown_key_message(workspace_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer cairn_not-a-key")

    assert client.get("/api/v1/workflows/").data["detail"] == "invalid or revoked API key"


def test_a_revoked_key_is_a_401(workspace_a):
    key, raw = make_api_key(workspace_a)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = client.get("/api/v1/workflows/")

    assert response.status_code == 401
    assert response.data["detail"] == "invalid or revoked API key"


def test_a_key_revoked_in_another_process_stops_working_within_the_cache_time(
    workspace_a, settings
):
    settings.API_KEY_CACHE_SECONDS = 0.5
    key, raw = make_api_key(workspace_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/workflows/").status_code == 200

    # As the admin of another web process would: this process is not told.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    time.sleep(0.6)

    assert client.get("/api/v1/workflows/").status_code == 401


def test_a_key_revoked_in_the_admin_is_refused_at_once(workspace_a, admin_client):
    key, raw = make_api_key(workspace_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/workflows/").status_code == 200

    admin_client.post(
        reverse("admin:builder_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )

    assert client.get("/api/v1/workflows/").status_code == 401


def test_last_used_at_moves_at_most_once_a_minute(workspace_a, settings):
    settings.API_KEY_CACHE_SECONDS = 0  # each request reads the row this test moves back
    key, raw = make_api_key(workspace_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    client.get("/api/v1/workflows/")
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None

    recent = timezone.now() - timedelta(seconds=30)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=recent)
    client.get("/api/v1/workflows/")
    key.refresh_from_db()
    assert key.last_used_at == recent

    stale = timezone.now() - timedelta(minutes=2)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=stale)
    client.get("/api/v1/workflows/")
    key.refresh_from_db()
    assert key.last_used_at > stale + timedelta(minutes=1)


def test_a_key_cannot_name_another_workspace(client_a, workspace_b):
    response = client_a.get("/api/v1/workflows/", HTTP_X_CAIRN_WORKSPACE=workspace_b.slug)

    assert response.status_code == 403


def test_a_key_may_name_its_own_workspace(client_a, workspace_a):
    response = client_a.get("/api/v1/workflows/", HTTP_X_CAIRN_WORKSPACE=workspace_a.slug)

    assert response.status_code == 200


# ---------------------------------------------------------------- sessions


def test_session_with_one_membership_needs_no_header(session_client, member, workflow_a):
    response = session_client(member).get("/api/v1/workflows/")

    assert response.status_code == 200
    assert response.data["count"] == 1


def test_session_with_several_memberships_must_name_the_workspace(
    session_client, member, workspace_a, workspace_b, workflow_a
):
    MembershipFactory(workspace=workspace_b, user=member, role=Role.VIEWER)
    client = session_client(member)

    unnamed = client.get("/api/v1/workflows/")
    named = client.get("/api/v1/workflows/", HTTP_X_CAIRN_WORKSPACE=workspace_a.slug)

    assert unnamed.status_code == 400
    assert "X-Cairn-Workspace" in unnamed.data["detail"]
    assert "X-Cairn-Workspace" in unnamed.data["errors"]
    assert named.status_code == 200
    assert named.data["count"] == 1


def test_session_naming_a_workspace_it_is_not_a_member_of_is_a_403(
    session_client, member, workspace_b
):
    response = session_client(member).get(
        "/api/v1/workflows/", HTTP_X_CAIRN_WORKSPACE=workspace_b.slug
    )

    assert response.status_code == 403


def test_a_superuser_is_not_a_member_of_everything(session_client, workspace_a, workflow_a):
    admin = UserFactory(is_superuser=True, is_staff=True)
    client = session_client(admin)

    unnamed = client.get("/api/v1/workflows/")
    named = client.get("/api/v1/workflows/", HTTP_X_CAIRN_WORKSPACE=workspace_a.slug)

    assert unnamed.status_code == 403
    assert named.status_code == 403


def test_session_writes_need_the_csrf_token(session_client, member):
    client = session_client(member)

    refused = client.post("/api/v1/workflows/", {"name": "No token"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.data["detail"]
    assert Workflow.objects.count() == 0

    client.cookies["csrftoken"] = CSRF_SECRET
    accepted = client.post(
        "/api/v1/workflows/",
        {"name": "With token"},
        format="json",
        HTTP_X_CSRFTOKEN=CSRF_SECRET,
    )
    assert accepted.status_code == 201, accepted.data
    workflow = Workflow.objects.get()
    assert workflow.created_by == member


def test_session_publish_records_who_published(session_client, workspace_a, workflow_a):
    user = MembershipFactory(workspace=workspace_a, role=Role.PUBLISHER).user
    client = session_client(user)
    client.cookies["csrftoken"] = CSRF_SECRET

    response = client.post(
        f"/api/v1/workflows/{workflow_a.pk}/publish", HTTP_X_CSRFTOKEN=CSRF_SECRET
    )
    versions = client.get(f"/api/v1/workflows/{workflow_a.pk}/versions/")

    assert response.status_code == 200, response.data
    assert versions.data["results"][0]["published_by"] == user.username


# ---------------------------------------------------------------- roles

ROLES = [Role.VIEWER, Role.EDITOR, Role.PUBLISHER, Role.ADMIN]


def _draft(workspace):
    return WorkflowFactory(workspace=workspace)


def _active(workspace):
    return published_workflow(workspace)


def _failed_run(workspace):
    return RunFactory(workflow=published_workflow(workspace), status=RunStatus.FAILED)


def _contact(workspace):
    return Contact.objects.create(workspace=workspace, email="someone@example.com")


# (name, the least role allowed, method, path template, setup(workspace) -> object, body)
ROLE_TABLE = [
    ("list workflows", Role.VIEWER, "get", "/api/v1/workflows/", None, None),
    ("read workflow", Role.VIEWER, "get", "/api/v1/workflows/{pk}/", _draft, None),
    ("results", Role.VIEWER, "get", "/api/v1/workflows/{pk}/results", _draft, None),
    ("read contacts", Role.VIEWER, "get", "/api/v1/contacts/", None, None),
    ("create workflow", Role.EDITOR, "post", "/api/v1/workflows/", None, {"name": "New"}),
    (
        "rename workflow",
        Role.EDITOR,
        "patch",
        "/api/v1/workflows/{pk}/",
        _draft,
        {"name": "Renamed"},
    ),
    ("save draft", Role.EDITOR, "put", "/api/v1/workflows/{pk}/draft", _draft, signup_graph()),
    (
        "create contact",
        Role.EDITOR,
        "post",
        "/api/v1/contacts/",
        None,
        {"email": "new@example.com"},
    ),
    (
        "send event",
        Role.EDITOR,
        "post",
        "/api/v1/events",
        None,
        {"type": "signup", "contact": {"email": "e@example.com"}},
    ),
    ("publish", Role.PUBLISHER, "post", "/api/v1/workflows/{pk}/publish", _draft, {}),
    (
        "change status",
        Role.PUBLISHER,
        "put",
        "/api/v1/workflows/{pk}/status",
        _active,
        {"status": "paused"},
    ),
    ("restore", Role.PUBLISHER, "post", "/api/v1/workflows/{pk}/versions/1/restore", _active, {}),
    ("retry run", Role.PUBLISHER, "post", "/api/v1/runs/{pk}/retry", _failed_run, {}),
    ("delete workflow", Role.ADMIN, "delete", "/api/v1/workflows/{pk}/", _draft, None),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("least", "method", "path", "setup", "body"),
    [row[1:] for row in ROLE_TABLE],
    ids=[row[0] for row in ROLE_TABLE],
)
def test_each_action_needs_its_role(
    client_for, workspace_a, role, least, method, path, setup, body
):
    target = setup(workspace_a) if setup else None
    client = client_for(role)
    counts = (Workflow.objects.count(), Contact.objects.count(), Run.objects.count())

    response = getattr(client, method)(
        path.format(pk=getattr(target, "pk", "")), body, format="json"
    )

    if Role.rank(role) >= Role.rank(least):
        assert response.status_code < 400, response.data
    else:
        assert response.status_code == 403
        assert f"needs the {least} role" in response.data["detail"]
        assert (Workflow.objects.count(), Contact.objects.count(), Run.objects.count()) == counts


def test_a_refused_publish_changes_nothing(client_for, workflow_a):
    response = client_for(Role.EDITOR).post(f"/api/v1/workflows/{workflow_a.pk}/publish")

    assert response.status_code == 403
    workflow_a.refresh_from_db()
    assert workflow_a.status == WorkflowStatus.DRAFT
    assert not workflow_a.versions.exists()


def test_session_roles_come_from_the_membership(session_client, workspace_a, workflow_a):
    viewer = MembershipFactory(workspace=workspace_a, role=Role.VIEWER).user
    client = session_client(viewer)
    client.cookies["csrftoken"] = CSRF_SECRET

    response = client.put(
        f"/api/v1/workflows/{workflow_a.pk}/draft",
        signup_graph("other"),
        format="json",
        HTTP_X_CSRFTOKEN=CSRF_SECRET,
    )

    assert response.status_code == 403
    assert "needs the editor role" in response.data["detail"]
