"""Connections: a workspace's credentials per provider, encrypted at rest,
never shown back in full, with a "test connection" action.

Invariant: the bytes of a secret appear nowhere a person or a log can read
them (API answers, admin pages, error details, logs), and not in the
database row either (it is encrypted there).
"""

from __future__ import annotations

import json
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db

from builder.models import Role
from integrations import crypto
from integrations.models import Connection
from tests.builder.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "xoxb-1111-2222-secret-bot-token"
HTTP_TOKEN = "bearer-token-do-not-leak-9f8e7d"


def create(client, **body):
    return client.post("/api/v1/connections/", body, format="json")


@pytest.fixture
def slack(client_a):
    response = create(client_a, name="Team Slack", provider="slack", secrets={"bot_token": TOKEN})
    assert response.status_code == 201, response.content
    return response.json()


def test_create_answers_a_redacted_view(client_a, slack):
    assert slack["provider"] == "slack"
    assert slack["name"] == "Team Slack"
    assert slack["secrets"] == {"bot_token": "••••oken"}
    assert isinstance(slack["id"], str)
    assert TOKEN not in json.dumps(slack)


def test_the_secret_is_encrypted_at_rest(slack):
    with db.cursor() as cursor:
        cursor.execute("SELECT encrypted_secrets, settings::text FROM integrations_connection")
        ((stored, settings),) = cursor.fetchall()
    assert TOKEN not in stored and TOKEN not in settings
    assert Connection.objects.get().secrets == {"bot_token": TOKEN}


def test_list_by_provider_is_paginated_and_never_shows_secrets(client_a, client_for, slack):
    create(
        client_a,
        name="Ops",
        provider="http",
        settings={"auth": "bearer", "hosts": ["https://crm.example.com"]},
        secrets={"token": HTTP_TOKEN},
    )
    listed = client_for(Role.VIEWER).get("/api/v1/connections/?provider=slack")
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 1
    assert [c["id"] for c in body["results"]] == [slack["id"]]
    everything = client_a.get("/api/v1/connections/").json()
    assert everything["count"] == 2
    text = json.dumps(everything) + json.dumps(
        client_a.get(f"/api/v1/connections/{slack['id']}/").json()
    )
    assert TOKEN not in text and HTTP_TOKEN not in text


def test_patch_keeps_secrets_left_out_and_replaces_given_ones(client_a, slack):
    url = f"/api/v1/connections/{slack['id']}/"
    renamed = client_a.patch(url, {"name": "Slack (main)"}, format="json")
    assert renamed.status_code == 200
    assert Connection.objects.get().secrets == {"bot_token": TOKEN}
    client_a.patch(url, {"secrets": {"bot_token": "xoxb-new-token-0000000"}}, format="json")
    assert Connection.objects.get().secrets == {"bot_token": "xoxb-new-token-0000000"}


def test_provider_rules_are_checked_naming_the_field(client_a):
    missing = create(
        client_a, name="Jira", provider="jira", settings={"base_url": "https://a.example"}
    )
    assert missing.status_code == 400
    assert set(missing.json()["errors"]) >= {"settings", "secrets"}
    assert "email" in json.dumps(missing.json()["errors"]) or "api_token" in json.dumps(
        missing.json()
    )
    unknown = create(client_a, name="S", provider="slack", secrets={"bot_token": TOKEN, "x": "y"})
    assert unknown.status_code == 400
    assert TOKEN not in json.dumps(unknown.json())
    bad_provider = create(client_a, name="S", provider="myspace", secrets={})
    assert bad_provider.status_code == 400


def test_names_are_unique_per_provider(client_a, slack):
    again = create(client_a, name="Team Slack", provider="slack", secrets={"bot_token": TOKEN})
    assert again.status_code == 409  # taken: a conflict with what is stored
    assert "name" in again.json()["errors"]


def test_roles_and_workspaces(client_for, client_b, slack):
    assert (
        create(
            client_for(Role.PUBLISHER), name="x", provider="slack", secrets={"bot_token": TOKEN}
        ).status_code
        == 403
    )
    assert (
        client_for(Role.VIEWER).post(f"/api/v1/connections/{slack['id']}/test").status_code == 403
    )
    assert client_b.get(f"/api/v1/connections/{slack['id']}/").status_code == 404
    assert client_b.get("/api/v1/connections/").json()["count"] == 0
    assert client_b.post(f"/api/v1/connections/{slack['id']}/test").status_code == 404


# ------------------------------------------------------------------ test connection


def test_testing_an_http_connection_calls_its_test_url_with_its_auth(
    client_a, client_for, service, caplog
):
    caplog.set_level(logging.DEBUG)
    made = create(
        client_a,
        name="CRM",
        provider="http",
        settings={"auth": "bearer", "hosts": [service.url], "test_url": service.url + "/me"},
        secrets={"token": HTTP_TOKEN},
    ).json()
    service.answer(200, {"me": "cairn"})
    answer = client_for(Role.EDITOR).post(f"/api/v1/connections/{made['id']}/test")
    assert answer.status_code == 200
    assert answer.json()["ok"] is True
    assert service.requests[0]["path"] == "/me"
    assert service.requests[0]["headers"]["authorization"] == f"Bearer {HTTP_TOKEN}"

    service.answer(401, {"error": f"token {HTTP_TOKEN} is revoked"})
    failed = client_a.post(f"/api/v1/connections/{made['id']}/test").json()
    assert failed["ok"] is False
    assert "401" in failed["detail"]
    stored = Connection.objects.get()
    assert stored.last_test_ok is False
    assert HTTP_TOKEN not in json.dumps(failed)
    assert HTTP_TOKEN not in caplog.text


def test_a_signing_connection_is_checked_for_shape(client_a):
    made = create(
        client_a,
        name="Signer",
        provider="http",
        settings={"auth": "signing", "hosts": ["https://crm.example.com"]},
        secrets={"signing_secret": "not-base64!!"},
    ).json()
    verdict = client_a.post(f"/api/v1/connections/{made['id']}/test").json()
    assert verdict["ok"] is False
    assert "signing_secret" in verdict["detail"]


# ------------------------------------------------------------------ key rotation


def test_key_rotation_with_multifernet(settings, slack):
    old_key = Fernet.generate_key().decode()
    new_key = Fernet.generate_key().decode()
    settings.CONNECTION_ENCRYPTION_KEYS = [old_key]
    stored = Connection.objects.get()
    stored.set_secrets({"bot_token": TOKEN})
    stored.save()
    # A new key in front: old rows still read; the command re-encrypts them.
    settings.CONNECTION_ENCRYPTION_KEYS = [new_key, old_key]
    assert Connection.objects.get().secrets == {"bot_token": TOKEN}
    call_command("rotate_connection_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.CONNECTION_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    assert Connection.objects.get().secrets == {"bot_token": TOKEN}
    settings.CONNECTION_ENCRYPTION_KEYS = [old_key]
    with pytest.raises(Exception, match="cannot be decrypted"):
        crypto.decrypt(Connection.objects.get().encrypted_secrets)


# ------------------------------------------------------------------ admin


@pytest.fixture
def admin_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_the_admin_never_shows_a_secret_and_can_test(admin_client, slack, service):
    stored = Connection.objects.get()
    stored.settings = {"base_url": service.url}
    stored.save()
    pages = [
        admin_client.get("/admin/integrations/connection/"),
        admin_client.get(f"/admin/integrations/connection/{stored.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert TOKEN.encode() not in page.content
    assert b"oken" in pages[1].content  # the redacted hint is shown

    service.answer(200, {"ok": True, "team": "Acme", "user": "cairn"})
    done = admin_client.post(
        "/admin/integrations/connection/",
        {"action": "test_connections", "_selected_action": [stored.pk]},
        follow=True,
    )
    assert b"Team Slack: works" in done.content
    assert TOKEN.encode() not in done.content
    assert service.requests[0]["headers"]["authorization"] == f"Bearer {TOKEN}"


def test_the_admin_form_sets_secrets_write_only(admin_client, workspace_a):
    page = admin_client.post(
        "/admin/integrations/connection/add/",
        {
            "workspace": workspace_a.pk,
            "provider": "github",
            "name": "GH",
            "settings": '{"owner": "acme"}',
            "new_secrets": '{"token": "ghp_admin_form_secret_123456"}',
        },
        follow=True,
    )
    assert page.status_code == 200
    stored = Connection.objects.get(name="GH")
    assert stored.secrets == {"token": "ghp_admin_form_secret_123456"}
    change = admin_client.get(f"/admin/integrations/connection/{stored.pk}/change/")
    assert b"ghp_admin_form_secret_123456" not in change.content


def test_an_invalid_admin_form_never_shows_the_posted_secrets_back(admin_client, workspace_a):
    """Invariant: a secret typed into the admin form is not in the page that shows
    the form again with its errors (nor stored: the form was refused)."""
    typed = "xoxb-typed-into-a-refused-form-4242"
    refused_settings = admin_client.post(
        "/admin/integrations/connection/add/",
        {
            "workspace": workspace_a.pk,
            "provider": "slack",
            "name": "Slack",
            "settings": '{"base_url": "ftp://not-http.example"}',  # refused: not http(s)
            "new_secrets": json.dumps({"bot_token": typed}),
        },
    )
    broken_json = admin_client.post(
        "/admin/integrations/connection/add/",
        {
            "workspace": workspace_a.pk,
            "provider": "slack",
            "name": "Slack",
            "settings": "{}",
            "new_secrets": '{"bot_token": "' + typed,  # not JSON
        },
    )
    for page in (refused_settings, broken_json):
        assert page.status_code == 200  # the form again, with its errors
        assert b"errornote" in page.content
        assert typed.encode() not in page.content
        assert b"4242" not in page.content
    assert not Connection.objects.exists()


def test_the_change_page_tests_the_stored_connection(admin_client, slack, service):
    stored = Connection.objects.get()
    stored.settings = {"base_url": service.url}
    stored.save()
    change_url = f"/admin/integrations/connection/{stored.pk}/change/"
    page = admin_client.get(change_url)
    test_url = f"/admin/integrations/connection/{stored.pk}/test/"
    assert f'action="{test_url}"'.encode() in page.content
    assert b"Test connection</button>" in page.content

    service.answer(200, {"ok": True, "team": "Acme", "user": "cairn"})
    done = admin_client.post(test_url, follow=True)
    assert done.redirect_chain[-1][0] == change_url
    assert b"Team Slack: works: signed in to Acme as cairn" in done.content
    service.answer(200, {"ok": False, "error": "invalid_auth"})
    failed = admin_client.post(test_url, follow=True)
    assert b"Team Slack: failed: Slack auth.test: invalid_auth" in failed.content
    assert TOKEN.encode() not in done.content + failed.content
    assert [r["path"] for r in service.requests] == ["/auth.test", "/auth.test"]
    assert admin_client.get(test_url).status_code == 403  # a GET changes nothing


# ------------------------------------------------------------------ each provider's test


@pytest.mark.parametrize(
    ("provider", "settings_", "secrets", "answer", "method", "path", "says"),
    [
        (
            "slack",
            {},
            {"bot_token": "xoxb-1"},
            {"ok": True, "team": "Acme", "user": "bot"},
            "POST",
            "/auth.test",
            "Acme",
        ),
        (
            "jira",
            {"email": "a@b.c"},
            {"api_token": "j-1"},
            {"displayName": "Ops Bot"},
            "GET",
            "/rest/api/3/myself",
            "Ops Bot",
        ),
        ("github", {}, {"token": "ghp_1"}, {"login": "cairn-bot"}, "GET", "/user", "cairn-bot"),
        (
            "linear",
            {},
            {"api_key": "lin_1"},
            {"data": {"viewer": {"id": "u", "name": "Lin"}}},
            "POST",
            "/graphql",
            "Lin",
        ),
        (
            "sms",
            {"account_sid": "AC9", "from_number": "+15005550006"},
            {"auth_token": "t"},
            {"sid": "AC9", "friendly_name": "Acme", "status": "active"},
            "GET",
            "/2010-04-01/Accounts/AC9.json",
            "active",
        ),
        (
            "mixpanel",
            {"project_id": "1", "username": "sa"},
            {"secret": "s"},
            {"code": 200, "num_records_imported": 0, "status": "OK"},
            "POST",
            "/import?strict=1&project_id=1",
            "accepted",
        ),
    ],
)
def test_each_provider_test_makes_its_cheapest_authenticated_call(
    client_a, service, provider, settings_, secrets, answer, method, path, says
):
    made = create(
        client_a,
        name=provider,
        provider=provider,
        settings={"base_url": service.url, **settings_},
        secrets=secrets,
    )
    assert made.status_code == 201, made.content
    service.answer(200, answer)
    verdict = client_a.post(f"/api/v1/connections/{made.json()['id']}/test").json()
    assert verdict["ok"] is True, verdict
    assert says in verdict["detail"]
    assert (service.requests[0]["method"], service.requests[0]["path"]) == (method, path)
    assert "authorization" in service.requests[0]["headers"]


def test_a_push_connection_test_checks_its_vapid_key(client_a):
    from py_vapid import Vapid02, b64urlencode

    keys = Vapid02()
    keys.generate_keys()
    raw = b64urlencode(keys.private_key.private_numbers().private_value.to_bytes(32, "big"))
    good = create(
        client_a,
        name="Push",
        provider="webpush",
        settings={"subject": "mailto:ops@acme.example"},
        secrets={"private_key": raw},
    )
    assert client_a.post(f"/api/v1/connections/{good.json()['id']}/test").json()["ok"] is True
    bad = create(
        client_a,
        name="Bad push",
        provider="webpush",
        settings={"subject": "mailto:ops@acme.example"},
        secrets={"private_key": "nope"},
    )
    verdict = client_a.post(f"/api/v1/connections/{bad.json()['id']}/test").json()
    assert verdict["ok"] is False
    assert "nope" not in verdict["detail"]


def test_a_connection_a_live_workflow_uses_cannot_be_deleted(client_a, slack, workspace_a):
    from builder import services
    from tests.builder.factories import published_workflow

    graph = {
        "nodes": [
            {
                "id": "start",
                "type": "trigger.event",
                "position": {"x": 0, "y": 0},
                "data": {"config": {"event": "signup"}},
            },
            {
                "id": "ping",
                "type": "action.slack",
                "position": {"x": 0, "y": 100},
                "data": {"config": {"connection": slack["id"], "channel": "#a", "text": "hi"}},
            },
        ],
        "edges": [{"id": "e", "source": "start", "target": "ping"}],
        "settings": {},
    }
    workflow = published_workflow(workspace_a, graph=graph, name="Pings")
    url = f"/api/v1/connections/{slack['id']}/"

    refused = client_a.delete(url)

    assert refused.status_code == 409
    assert "Pings" in refused.json()["detail"]
    services.change_status(workflow, "paused")
    workflow.refresh_from_db()
    services.change_status(workflow, "archived")
    assert client_a.delete(url).status_code == 204
    assert not Connection.objects.exists()


def test_the_api_says_when_a_connections_circuit_is_open(client_a, slack, settings, service):
    from integrations.http import breaker

    url = f"/api/v1/connections/{slack['id']}/"
    assert client_a.get(url).json()["circuit_open_until"] is None
    settings.CIRCUIT_BREAKER_THRESHOLD = 1
    breaker.failure(f"connection:{slack['id']}")
    assert client_a.get(url).json()["circuit_open_until"] is not None
    # "Test connection" does not hammer it either: it says the circuit is open.
    verdict = client_a.post(f"/api/v1/connections/{slack['id']}/test").json()
    assert verdict["ok"] is False and "circuit breaker" in verdict["detail"]
    assert service.requests == []
