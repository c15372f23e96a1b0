"""API fixtures: two workspaces (A and B) and clients authenticated into them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from builder.models import Role
from tests.builder.factories import (
    MembershipFactory,
    UserFactory,
    WorkflowFactory,
    WorkspaceFactory,
    make_api_key,
    published_workflow,
)


def key_client(workspace, role: str = Role.ADMIN) -> APIClient:
    _key, raw = make_api_key(workspace, role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def workspace_a(db):
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def workspace_b(db):
    return WorkspaceFactory(name="Bravo", slug="bravo")


@pytest.fixture
def client_a(workspace_a) -> APIClient:
    """An admin API key of workspace A."""
    return key_client(workspace_a)


@pytest.fixture
def client_b(workspace_b) -> APIClient:
    """An admin API key of workspace B."""
    return key_client(workspace_b)


@pytest.fixture
def client_for(workspace_a):
    """client_for(role) -> an API key client of workspace A with that role."""

    def make(role: str, workspace=None) -> APIClient:
        return key_client(workspace or workspace_a, role)

    return make


@pytest.fixture
def session_client(db):
    """session_client(user) -> a browser-like client, logged in, with CSRF enforced."""

    def make(user) -> APIClient:
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def member(workspace_a):
    """A person who is an editor of workspace A only."""
    return MembershipFactory(workspace=workspace_a, user=UserFactory(), role=Role.EDITOR).user


@pytest.fixture
def workflow_a(workspace_a):
    """A draft workflow of A with a valid graph."""
    return WorkflowFactory(workspace=workspace_a, name="Welcome")


@pytest.fixture
def published_a(workspace_a):
    """A workflow of A published as version 1 (active) on the signup event."""
    return published_workflow(workspace_a, name="Onboarding")
