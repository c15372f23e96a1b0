"""The outbound guard: private, loopback, link-local, multicast and metadata
addresses are refused after DNS resolution and on every redirect; what a
step keeps of an answer is bounded and redacted, and viewers cannot read it.

Invariant: a refused destination receives nothing (the fake services on
127.0.0.1 record every request they get).
"""

from __future__ import annotations

import json

import pytest

from automation.nodes.base import NodeError, PermanentNodeError
from integrations.http import client as http
from integrations.http.guard import OutboundRefused
from integrations.webhook.nodes import WebhookAction
from tests.automation.node_helpers import config_errors, make_ctx


@pytest.fixture
def guard_on(settings):
    """The production default: nothing allow-listed."""
    settings.OUTBOUND_ALLOWLIST = []
    return settings


def call(config, **fields):
    fields.setdefault("idempotency_key", "step-1")
    return WebhookAction().run(make_ctx(config, **fields))


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("[::1]", "loopback"),
        ("2130706433", "loopback"),  # decimal-encoded 127.0.0.1
        ("0x7f.1", "loopback"),  # hex / short form
        ("[::ffff:127.0.0.1]", "loopback"),  # IPv4-mapped IPv6
        ("10.0.0.8", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("[fd12:3456::1]", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),  # AWS ECS task metadata / credentials
        ("[fd00:ec2::254]", "metadata"),  # AWS IMDS over IPv6
        ("169.254.10.10", "link-local"),
        ("[fe80::1]", "link-local"),
        ("224.0.0.251", "multicast"),
        ("239.1.2.3", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.100.100.200", "metadata"),
        ("100.64.0.1", "reserved"),
    ],
)
def test_each_forbidden_address_family_is_refused(guard_on, service, host, reason):
    with pytest.raises(OutboundRefused, match=reason):
        call({"url": f"http://{host}:{service.port}/internal"})
    assert service.requests == []


def test_a_name_that_resolves_to_loopback_is_refused(guard_on, service):
    with pytest.raises(OutboundRefused, match=r"localhost resolves to (127\.0\.0\.1|::1)"):
        call({"url": f"http://localhost:{service.port}/admin"})
    assert service.requests == []


def test_the_metadata_service_name_is_refused_before_any_lookup(guard_on):
    with pytest.raises(OutboundRefused, match="metadata"):
        call({"url": "http://metadata.google.internal/computeMetadata/v1/"})


def test_a_url_taken_from_event_data_is_refused(guard_on, service):
    event = {"id": "e1", "type": "x", "data": {"url": f"http://127.0.0.1:{service.port}/db"}}
    with pytest.raises(OutboundRefused, match="loopback"):
        call({"url": "{{ event.data.url }}"}, event=event)
    assert service.requests == []


def test_a_refusal_is_permanent_not_retried(guard_on, service):
    with pytest.raises(PermanentNodeError):
        call({"url": f"http://10.1.1.1:{service.port}/"})


def test_a_redirect_to_loopback_is_refused(settings, service, other_service):
    # The first hop is allowed by name (a self-hosted target); the redirect
    # points at a loopback address that is not allowed.
    settings.OUTBOUND_ALLOWLIST = ["localhost"]
    service.answer(302, b"", headers={"Location": f"http://127.0.0.1:{other_service.port}/x"})
    with pytest.raises(OutboundRefused, match="loopback"):
        call({"method": "GET", "url": f"http://localhost:{service.port}/start"})
    assert len(service.requests) == 1
    assert other_service.requests == []


def test_a_redirect_to_the_metadata_address_is_refused(settings, service):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    service.answer(301, b"", headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(OutboundRefused, match="metadata"):
        call({"method": "GET", "url": f"{service.url}/start"})
    assert len(service.requests) == 1


def test_allowed_redirects_are_followed_and_credentials_stay_with_their_origin(
    service, other_service
):
    # Both servers are on 127.0.0.1 (allow-listed in tests) but on other ports:
    # another origin, so the Authorization header is not carried over.
    service.answer(307, b"", headers={"Location": f"{other_service.url}/moved"})
    other_service.answer(200, {"done": True})
    result = call(
        {"url": f"{service.url}/hook", "headers": {"Authorization": "Bearer s3cr3t-token"}},
    )
    assert result.output["status"] == 200
    assert result.output["body"] == {"done": True}
    assert service.requests[0]["headers"]["authorization"] == "Bearer s3cr3t-token"
    moved = other_service.requests[0]
    assert moved["path"] == "/moved"
    assert moved["method"] == "POST"  # 307 keeps the method and body
    assert "authorization" not in moved["headers"]


def _http_connection(settings_: dict, secrets: dict) -> dict:
    return {"id": "9", "provider": "http", "name": "CRM", "settings": settings_, "secrets": secrets}


def _call_with(connection: dict, url: str):
    ctx = make_ctx({"url": url, "connection": connection["id"]}, idempotency_key="run-1:2")
    ctx.connections = {connection["id"]: connection}
    return WebhookAction().run(ctx)


def test_a_custom_auth_header_stays_with_its_origin_whatever_its_name(service, other_service):
    """Invariant: a connection's credential is sent to the origin it was meant
    for only; a redirect to another origin (another port) gets none of it."""
    key = _http_connection(
        {"auth": "header", "header_name": "X-Cairn-Key", "hosts": [service.url]},
        {"header_value": "ck-live-777"},
    )
    service.answer(302, b"", headers={"Location": f"{service.url}/same-origin"})
    service.answer(307, b"", headers={"Location": f"{other_service.url}/elsewhere"})
    other_service.answer(200, {"done": True})

    assert _call_with(key, f"{service.url}/hook").output["status"] == 200

    first, same_origin = service.requests
    assert first["headers"]["x-cairn-key"] == "ck-live-777"
    assert same_origin["headers"]["x-cairn-key"] == "ck-live-777"  # same origin: kept
    [elsewhere] = other_service.requests
    assert elsewhere["path"] == "/elsewhere"
    assert "x-cairn-key" not in elsewhere["headers"]
    assert b"ck-live-777" not in json.dumps(elsewhere["headers"]).encode()
    assert elsewhere["headers"]["idempotency-key"] == "run-1:2"  # not a credential: kept


def test_a_signature_is_not_carried_to_another_origin(service, other_service):
    from integrations.standard_webhooks import new_secret

    signer = _http_connection(
        {"auth": "signing", "hosts": [service.url]}, {"signing_secret": new_secret()}
    )
    service.answer(308, b"", headers={"Location": f"{other_service.url}/moved"})

    _call_with(signer, f"{service.url}/in")

    signed = service.requests[0]["headers"]
    assert signed["webhook-signature"].startswith("v1,")
    moved = other_service.requests[0]["headers"]
    assert not {"webhook-signature", "webhook-id", "webhook-timestamp"} & set(moved)


def test_too_many_redirects_fail(settings, service):
    settings.OUTBOUND_MAX_REDIRECTS = 2
    for _ in range(3):
        service.answer(302, b"", headers={"Location": f"{service.url}/again"})
    with pytest.raises(PermanentNodeError, match="redirected more than 2 times"):
        call({"method": "GET", "url": service.url})
    assert len(service.requests) == 3


def test_the_allowlist_accepts_networks(settings, service):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.0/8"]
    assert call({"url": service.url})
    assert len(service.requests) == 1


def test_validation_refuses_literal_private_and_metadata_urls(guard_on):
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:5432/",
        "http://localhost/admin",
        "http://2130706433/",
        "http://[::1]/",
    ):
        assert "url" in config_errors(WebhookAction, {"url": url}), url
    assert config_errors(WebhookAction, {"url": "https://api.example.com/hook"}) == {}
    # A templated host is checked when the request is made.
    assert config_errors(WebhookAction, {"url": "{{ event.data.url }}"}) == {}


# ------------------------------------------------------------------ capture


def test_the_captured_response_is_redacted(service):
    service.answer(
        200,
        {"user": "ada", "access_token": "tok-123456", "nested": {"password": "hunter22"}},
    )
    result = call({"url": service.url + "/login?api_key=k-987654&page=2"})
    assert result.output["body"] == {
        "user": "ada",
        "access_token": "[redacted]",
        "nested": {"password": "[redacted]"},
    }
    assert "k-987654" not in json.dumps(result.output)
    assert "page=2" in result.output["url"]


def test_the_captured_response_is_bounded(settings, service):
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 1000
    service.answer(200, b"y" * 50_000, content_type="text/plain")
    result = call({"url": service.url})
    assert len(result.output["body"]) == 1000


def test_failure_messages_name_no_query_secret(guard_on):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    guard_on.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    with pytest.raises(NodeError) as refused:
        http.request("GET", f"http://127.0.0.1:{port}/x?token=abcdef", timeout=1)
    assert not isinstance(refused.value, PermanentNodeError)  # a network failure, retried
    assert "abcdef" not in str(refused.value)
    guard_on.OUTBOUND_ALLOWLIST = []
    with pytest.raises(OutboundRefused) as guarded:
        http.request("GET", f"http://127.0.0.1:{port}/x?token=abcdef", timeout=1)
    assert "abcdef" not in str(guarded.value)


def test_every_checked_address_is_tried_in_turn(service):
    # A name with an IPv6 and an IPv4 address, on a host where only IPv4
    # answers: the call goes on with the next checked address.
    import httpx

    from integrations.http.guard import Destination

    service.answer(200, {"via": "ipv4"})
    destination = Destination("api.example", service.port, ("::1", "127.0.0.1"))
    with httpx.Client(timeout=2) as client:
        answer = http._send(
            client, "GET", httpx.URL(f"http://api.example:{service.port}/x"), destination, {}, None
        )
        answer.read()
        answer.close()
    assert answer.status_code == 200
    assert service.requests[0]["headers"]["host"] == f"api.example:{service.port}"
