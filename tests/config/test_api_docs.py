"""/api/schema/ and /api/docs/ are private unless API_DOCS_PUBLIC opens them.

Invariant: with DEBUG off and nothing configured, nobody outside a workspace
reads the API's shape; members (session) and API keys always may.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import Client
from rest_framework.test import APIClient

from builder.models import Role
from tests.builder.factories import MembershipFactory, UserFactory, WorkspaceFactory, make_api_key
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def private(settings):
    settings.API_DOCS_PUBLIC = False


@pytest.mark.parametrize(("debug", "public"), [("false", "False"), ("true", "True")])
def test_the_default_follows_debug_so_production_is_private(debug, public):
    env = {**os.environ, "DEBUG": debug}
    env.pop("API_DOCS_PUBLIC", None)
    shown = subprocess.run(
        [sys.executable, "-c", "from config import settings; print(settings.API_DOCS_PUBLIC)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == public


def test_private_schema_refuses_an_anonymous_caller_and_docs_send_them_to_log_in(private):
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    docs = Client().get("/api/docs/")

    assert schema.status_code == 401
    assert schema.json()["detail"] == "Authentication credentials were not provided."
    assert docs.status_code == 302
    assert docs["Location"] == "/login/?next=/api/docs/"


def test_private_schema_and_docs_are_readable_by_an_api_key(private):
    _key, raw = make_api_key(WorkspaceFactory(), Role.VIEWER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "/api/v1/events" in response.json()["paths"]


def test_private_schema_and_docs_are_readable_by_a_logged_in_member(private):
    member = MembershipFactory(workspace=WorkspaceFactory(), role=Role.VIEWER).user
    client = Client()
    client.force_login(member)

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert "/api/v1/workflows/" in schema.json()["paths"]
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_a_logged_in_user_of_no_workspace_is_refused(private):
    client = Client()
    client.force_login(UserFactory())

    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "the API schema is private: log in as a workspace member or send an API key"
    )


def test_api_docs_public_opens_both_to_anyone(settings):
    settings.API_DOCS_PUBLIC = True

    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    docs = Client().get("/api/docs/")

    assert schema.status_code == 200
    assert "/api/v1/events" in schema.json()["paths"]
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
