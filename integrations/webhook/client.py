"""HTTP transport for action.webhook, through the one guarded client.

Every request carries `Idempotency-Key: <step key>`, stable across retries of
one visit of one node, so a receiver can drop a repeat after a crash. With a
connection, its auth is added (bearer, basic, a header, or Standard Webhooks
signing with a `webhook-id` as stable as the idempotency key), and only for
a URL on one of the connection's `hosts` (integrations.destinations): any
other URL is refused before anything is sent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from .. import connection_sites, standard_webhooks
from ..http import client as http


def default_timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10.0))


def auth_headers(connection: Mapping[str, Any] | None, body: bytes, key: str) -> dict[str, str]:
    """The headers a generic HTTP connection adds to a request."""
    if not connection:
        return {}
    secrets = connection.get("secrets") or {}
    options = connection.get("settings") or {}
    kind = options.get("auth", "bearer")
    if kind == "bearer":
        return {"Authorization": f"Bearer {secrets.get('token', '')}"}
    if kind == "basic":
        pair = f"{options.get('username', '')}:{secrets.get('password', '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    if kind == "header":
        return {options.get("header_name") or "X-API-Key": secrets.get("header_value", "")}
    if kind == "signing":
        msg_id = standard_webhooks.message_id(key)
        return standard_webhooks.sign_headers(secrets.get("signing_secret", ""), msg_id, body)
    return {}


def send_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    text: str | None = None,
    json_body: Any = None,
    timeout: float | None = None,
    idempotency_key: str = "",
    connection: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Send one request; returns {"status", "body", "url", "method"} (+ "webhook_id").

    Raises NodeError for what a retry may fix (network errors, timeouts, 5xx,
    429 — not before Retry-After) and PermanentNodeError for other 4xx (the
    response kept on the step), refused destinations and unusable URLs.
    """
    request_headers = dict(headers or {})
    if idempotency_key:
        request_headers["Idempotency-Key"] = idempotency_key
    content: bytes | None = None
    if json_body is not None:
        content = json.dumps(json_body).encode()
        if not any(name.lower() == "content-type" for name in request_headers):
            request_headers["Content-Type"] = "application/json"
    elif text is not None:
        content = text.encode()
    added = auth_headers(connection, content or b"", idempotency_key)
    request_headers.update(added)
    secrets = list((connection or {}).get("secrets", {}).values()) if connection else []
    response = http.request(
        method,
        url,
        headers=request_headers,
        content=content,
        timeout=default_timeout() if timeout is None else float(timeout),
        follow_redirects=True,
        breaker_key=f"connection:{connection['id']}" if connection else "",
        secrets=[str(s) for s in secrets],
        credential_headers=added,  # the connection's auth, whatever its header is called
        credentials_for=connection_sites.origins_of(connection) if connection else None,
    )
    http.raise_for_status(response)
    result = {
        "status": response.status,
        "body": response.captured()["body"],
        "url": response.url,
        "method": response.method,
    }
    if "webhook-id" in added:
        result["webhook_id"] = added["webhook-id"]
    return result


NEEDED_SECRET = {
    "bearer": "token",
    "basic": "password",
    "header": "header_value",
    "signing": "signing_secret",
}


def test_connection(connection: Mapping[str, Any]) -> str:
    """A GET of the connection's test URL with its auth; without one, a check of its shape."""
    from automation.nodes.base import PermanentNodeError

    options = connection.get("settings") or {}
    kind = options.get("auth", "bearer")
    needed = NEEDED_SECRET.get(kind)
    if needed and not (connection.get("secrets") or {}).get(needed):
        raise PermanentNodeError(f"secrets.{needed}: {kind} auth needs it")
    if kind == "signing":
        try:
            standard_webhooks.secret_key(connection["secrets"]["signing_secret"])
        except ValueError as error:
            raise PermanentNodeError(f"secrets.signing_secret: {error}") from error
    test_url = options.get("test_url")
    if not test_url:
        return f"{kind} credentials are stored; set a test URL to try them against a server"
    added = auth_headers(connection, b"", "connection-test")
    response = http.request(
        "GET",
        test_url,
        headers=added,
        secrets=[str(s) for s in (connection.get("secrets") or {}).values()],
        credential_headers=added,
        credentials_for=connection_sites.origins_of(connection),
    )
    http.raise_for_status(response)
    return f"GET {response.url} answered {response.status}"
