"""Calling a provider's API with a connection: JSON in, JSON out, through the guard.

The connection's id keys its circuit breaker; its secrets are redacted from
whatever a step or an error keeps; they are sent to its base URL's origin only
(integrations.destinations).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from .. import connection_sites
from . import client as http


def base_url(connection: Mapping[str, Any], default: str) -> str:
    return str((connection.get("settings") or {}).get("base_url") or default).rstrip("/")


def secrets_of(connection: Mapping[str, Any]) -> list[str]:
    return [str(v) for v in (connection.get("secrets") or {}).values() if v]


def call(
    connection: Mapping[str, Any],
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    form: Mapping[str, Any] | None = None,
    content: bytes | None = None,
    timeout: float | None = None,
    what: str = "",
) -> http.Response:
    """One call; returns a 2xx answer or raises what the engine should do (see raise_for_status)."""
    send = dict(headers or {})
    if json_body is not None:
        content = json.dumps(json_body).encode()
        send.setdefault("Content-Type", "application/json; charset=utf-8")
    elif form is not None:
        content = urlencode(form).encode()
        send.setdefault("Content-Type", "application/x-www-form-urlencoded")
    send.setdefault("Accept", "application/json")
    response = http.request(
        method,
        url,
        headers=send,
        content=content,
        timeout=timeout,
        breaker_key=f"connection:{connection['id']}",
        secrets=secrets_of(connection),
        credentials_for=connection_sites.origins_of(connection),
    )
    return http.raise_for_status(response, what=what)
