"""action.webhook against a real HTTP server (ThreadingHTTPServer on 127.0.0.1)."""

import json
import socket

import pytest

from automation.nodes.base import NodeError, PermanentNodeError
from integrations.webhook.nodes import WebhookAction
from tests.automation.node_helpers import config_errors, make_ctx


@pytest.fixture
def target(http_target):
    return http_target


EVENT = {"id": "e1", "type": "purchase", "data": {"total": 80, "sku": "A1"}}


def call(config, **ctx_fields):
    ctx_fields.setdefault("idempotency_key", "step-55")
    ctx_fields.setdefault("event", EVENT)
    return WebhookAction().run(make_ctx(config, **ctx_fields))


def test_posts_rendered_json_with_the_idempotency_key(target):
    target.answer(201, b'{"id": 9}')
    config = {
        "url": target.url + "/contacts/{{ contact.external_id }}",
        "headers": {"Authorization": "Bearer abc", "X-Plan": "{{ contact.plan }}"},
        "body": {"email": "{{ contact.email }}", "total": "{{ event.data.total }}", "n": 3},
    }
    result = call(config)
    request = target.requests[0]
    assert request["method"] == "POST"
    assert request["path"] == "/contacts/u-1"
    assert json.loads(request["body"]) == {"email": "ada@example.com", "total": "80", "n": 3}
    assert request["headers"]["content-type"] == "application/json"
    # A receiver can drop a repeat of the same step after a retry.
    assert request["headers"]["idempotency-key"] == "step-55"
    assert request["headers"]["user-agent"] == "Cairn/1"
    assert request["headers"]["authorization"] == "Bearer abc"
    assert request["headers"]["x-plan"] == "pro"
    assert result.output == {
        "status": 201,
        "body": {"id": 9},
        "url": target.url + "/contacts/u-1",
        "method": "POST",
    }


def test_retries_send_the_same_idempotency_key(target):
    call({"url": target.url})
    call({"url": target.url})
    assert {r["headers"]["idempotency-key"] for r in target.requests} == {"step-55"}


def test_get_with_a_text_answer(target):
    target.answer(200, b"pong", "text/plain")
    result = call({"method": "GET", "url": target.url + "/ping?sku={{ event.data.sku }}"})
    assert target.requests[0]["method"] == "GET"
    assert target.requests[0]["path"] == "/ping?sku=A1"
    assert result.output["body"] == "pong"
    assert result.output["method"] == "GET"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("Order {{ event.data.total }}", "text/plain; charset=utf-8"),
        ('{"total": {{ event.data.total }}}', "application/json"),
    ],
)
def test_text_bodies_are_rendered(target, body, content_type):
    call({"method": "PUT", "url": target.url, "body": body})
    request = target.requests[0]
    assert request["method"] == "PUT"
    assert request["headers"]["content-type"] == content_type
    assert request["body"].decode() in ("Order 80", '{"total": 80}')


def test_a_long_text_answer_is_cut_to_10_kb(target):
    target.answer(200, b"x" * 50_000, "text/html")
    result = call({"url": target.url})
    assert len(result.output["body"]) == 10 * 1024


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_retried(target, status):
    target.answer(status, b"busy")
    with pytest.raises(NodeError, match=str(status)) as caught:
        call({"url": target.url})
    assert not isinstance(caught.value, PermanentNodeError)


@pytest.mark.parametrize("status", [400, 404, 410])
def test_client_errors_are_permanent(target, status):
    target.answer(status, b'{"error": "no such contact"}')
    with pytest.raises(PermanentNodeError, match=str(status)) as caught:
        call({"url": target.url + "/missing"})
    # The response is kept on the step (its output), not in the error text.
    assert "no such contact" not in str(caught.value)
    assert caught.value.output["response"]["status"] == status
    assert caught.value.output["response"]["body"] == {"error": "no such contact"}


def test_redirects_are_not_followed(target):
    target.answer(301, b"", "text/plain")
    with pytest.raises(PermanentNodeError, match="301"):
        call({"url": target.url})
    assert len(target.requests) == 1


def test_a_slow_server_is_a_retryable_timeout(target):
    target.answer(200, b"{}", delay=1.5)
    with pytest.raises(NodeError, match="timed out") as caught:
        call({"url": target.url, "timeout_seconds": 0.3})
    assert not isinstance(caught.value, PermanentNodeError)


def test_default_timeout_comes_from_settings(target, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    target.answer(200, b"{}", delay=1.5)
    with pytest.raises(NodeError, match=r"timed out after 0\.3s"):
        call({"url": target.url})


def test_connection_refused_is_retryable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NodeError) as caught:
        call({"url": f"http://127.0.0.1:{port}/"})
    assert not isinstance(caught.value, PermanentNodeError)


@pytest.mark.parametrize(
    "url", ["{{ contact.properties.website }}", "ftp://files.example/{{ contact.id }}", "{{ '' }}"]
)
def test_a_url_that_does_not_render_to_http_fails_permanently(target, url):
    with pytest.raises(PermanentNodeError, match=r"^url:"):
        call({"url": url})
    assert target.requests == []


def test_preview_describes_the_request_and_sends_nothing(target):
    config = {
        "method": "PATCH",
        "url": target.url + "/c/{{ contact.external_id }}",
        "body": {"plan": "{{ contact.plan }}"},
    }
    result = call(config, dry_run=True)
    assert target.requests == []
    assert result.output == {
        "dry_run": True,
        "would": {
            "method": "PATCH",
            "url": target.url + "/c/u-1",
            "headers": {},
            "body": {"plan": "pro"},
        },
    }


def test_config_validation():
    assert WebhookAction.has_side_effects
    assert config_errors(WebhookAction, {"url": "https://api.example/x"}) == {}
    assert "method" in config_errors(WebhookAction, {"url": "https://a.example", "method": "TRACE"})
    too_slow = {"url": "https://a.example", "timeout_seconds": 120}
    assert "timeout_seconds" in config_errors(WebhookAction, too_slow)
    assert "url" in config_errors(WebhookAction, {"url": "api.example/hook"})
    bad_header = {"url": "https://a.example", "headers": {"X-Id": "{{ contact.id"}}
    assert config_errors(WebhookAction, bad_header)["headers.X-Id"].startswith("line 1")
    bad_body = {"url": "https://a.example", "body": {"items": ["{% for %}"]}}
    assert "body.items.0" in config_errors(WebhookAction, bad_body)
    assert config_errors(WebhookAction, {"url": "https://a.example", "body": 5})


def test_a_preview_shows_no_credentials(target):
    config = {
        "url": target.url + "/c?api_key=k-123456&x=1",
        "headers": {"Authorization": "Bearer t-123456", "X-Plan": "pro"},
    }
    would = call(config, dry_run=True).output["would"]
    assert would["headers"] == {"Authorization": "[redacted]", "X-Plan": "pro"}
    assert "k-123456" not in would["url"] and "x=1" in would["url"]
