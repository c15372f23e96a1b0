"""bootstrap and create_api_key: the two commands an operator runs first.

Invariants: bootstrap is idempotent (run on every deploy, it never duplicates
anything); CAIRN_ADMIN_PASSWORD, when set, is the admin's password after
every run; without it the generated password is printed once and then left
alone; create_api_key prints a raw key that only its hash remembers.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from builder.api.auth import ApiKeyAuthentication
from builder.models import ApiKey, Membership, Role, Workspace, hash_api_key

GENERATED = re.compile(r"Generated password \(shown once, keep it\): (\S+)")
RAW_KEY = re.compile(r"cairn_[A-Za-z0-9_\-]+")


def run(command: str, *args, **options) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def no_env_password(settings):
    settings.CAIRN_ADMIN_PASSWORD = ""
    return settings


# ---------------------------------------------------------------- bootstrap


@pytest.mark.django_db
def test_bootstrap_twice_creates_one_workspace_one_user_one_membership(no_env_password):
    run("bootstrap")
    run("bootstrap")

    workspace = Workspace.objects.get()
    user = get_user_model().objects.get()
    membership = Membership.objects.get()
    assert (workspace.slug, workspace.name) == ("default", "Default workspace")
    assert (user.username, user.email) == ("admin", "admin@localhost")
    assert user.is_superuser and user.is_staff
    assert (membership.workspace, membership.user, membership.role) == (
        workspace,
        user,
        Role.ADMIN,
    )


@pytest.mark.django_db
def test_bootstrap_prints_where_to_log_in(no_env_password):
    assert "Log in at http://127.0.0.1:8000/login/ as admin" in run("bootstrap")
    assert "Log in at https://cairn.example.com/login/ as admin" in run(
        "bootstrap", url="https://cairn.example.com/"
    )


@pytest.mark.django_db
def test_bootstrap_without_env_prints_a_password_that_works_and_keeps_it(no_env_password):
    first = run("bootstrap")
    password = GENERATED.search(first).group(1)

    assert authenticate(username="admin", password=password) is not None

    second = run("bootstrap")
    assert GENERATED.search(second) is None  # shown once
    assert "Password left unchanged" in second
    assert authenticate(username="admin", password=password) is not None


@pytest.mark.django_db
def test_bootstrap_applies_cairn_admin_password_on_every_run(settings):
    settings.CAIRN_ADMIN_PASSWORD = "correct horse battery"
    output = run("bootstrap")

    assert GENERATED.search(output) is None
    assert "correct horse battery" not in output
    assert authenticate(username="admin", password="correct horse battery") is not None

    # The environment stays the truth: a changed variable wins on the next run.
    settings.CAIRN_ADMIN_PASSWORD = "staple"
    run("bootstrap")
    assert authenticate(username="admin", password="staple") is not None
    assert authenticate(username="admin", password="correct horse battery") is None


@pytest.mark.django_db
def test_bootstrap_env_password_replaces_a_generated_one(settings):
    settings.CAIRN_ADMIN_PASSWORD = ""
    generated = GENERATED.search(run("bootstrap")).group(1)

    settings.CAIRN_ADMIN_PASSWORD = "from-the-env"
    run("bootstrap")

    assert authenticate(username="admin", password="from-the-env") is not None
    assert authenticate(username="admin", password=generated) is None


# ---------------------------------------------------------------- create_api_key


@pytest.mark.django_db
def test_create_api_key_prints_a_key_that_authenticates():
    workspace = Workspace.objects.create(name="Acme", slug="acme")

    output = run("create_api_key", "acme", "signup service", role="editor")

    raw = RAW_KEY.search(output).group(0)
    key = ApiKey.objects.get(key_hash=hash_api_key(raw))
    assert (key.workspace, key.name, key.role) == (workspace, "signup service", Role.EDITOR)
    assert f'curl -H "Authorization: Bearer {raw}"' in output
    request = RequestFactory().get("/api/v1/workflows/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    _user, authenticated_key = ApiKeyAuthentication().authenticate(request)
    assert authenticated_key == key


@pytest.mark.django_db
def test_create_api_key_defaults_to_admin_role():
    Workspace.objects.create(name="Acme", slug="acme")

    raw = RAW_KEY.search(run("create_api_key", "acme", "ops")).group(0)

    assert ApiKey.objects.get(key_hash=hash_api_key(raw)).role == Role.ADMIN


@pytest.mark.django_db
def test_create_api_key_for_an_unknown_workspace_fails_naming_the_slug():
    with pytest.raises(CommandError, match="nope"):
        run("create_api_key", "nope", "ops")
    assert not ApiKey.objects.exists()
