"""Web push (RFC 8030) with VAPID (RFC 8292): pywebpush encrypts, the guarded client sends.

The payload is encrypted for the contact's subscription (aes128gcm,
RFC 8291) by pywebpush's WebPusher; the VAPID Authorization header is signed
by py_vapid. The request itself goes through Cairn's guarded client, so a
subscription endpoint (which comes from contact data) cannot reach an
internal address.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from py_vapid import Vapid02
from pywebpush import WebPusher

from automation.nodes.base import PermanentNodeError

from ..http import api
from ..http import client as http


def _vapid(connection: Mapping[str, Any]) -> Vapid02:
    key = (connection.get("secrets") or {}).get("private_key", "")
    try:
        return Vapid02.from_string(key)
    except Exception as error:
        raise PermanentNodeError(
            "secrets.private_key: not a VAPID private key (base64url raw or DER)"
        ) from error


def _claims(connection: Mapping[str, Any], endpoint: str) -> dict[str, Any]:
    parts = urlsplit(endpoint)
    subject = (connection.get("settings") or {}).get("subject") or "mailto:ops@localhost"
    return {
        "sub": subject,
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + 12 * 3600,
    }


def send_push(
    connection: Mapping[str, Any],
    subscription: Mapping[str, Any],
    payload: Mapping[str, Any],
    *,
    ttl: int = 86400,
    urgency: str = "normal",
) -> dict[str, Any]:
    endpoint = str(subscription.get("endpoint") or "")
    keys = subscription.get("keys") or {}
    if not endpoint or not keys.get("p256dh") or not keys.get("auth"):
        raise PermanentNodeError("subscription: needs an endpoint and keys.p256dh / keys.auth")
    try:
        encoded = WebPusher(dict(subscription)).encode(json.dumps(payload).encode(), "aes128gcm")
    except Exception as error:
        raise PermanentNodeError(f"subscription: its keys cannot be used ({error})") from error
    headers = {
        **_vapid(connection).sign(_claims(connection, endpoint)),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(ttl),
        "Urgency": urgency,
    }
    response = http.request(
        "POST",
        endpoint,
        headers=headers,
        content=encoded["body"],
        follow_redirects=False,
        breaker_key=f"connection:{connection['id']}",
        secrets=api.secrets_of(connection),
    )
    if response.status in (404, 410):
        raise PermanentNodeError(
            f"the push subscription is gone ({response.status}): the contact unsubscribed",
            output={"response": response.captured()},
        )
    http.raise_for_status(response, what="Web push")
    return {
        "status": response.status,
        "location": response.headers.get("location", ""),
        "response": response.captured(),
    }


def test_connection(connection: Mapping[str, Any]) -> str:
    vapid = _vapid(connection)
    vapid.sign(
        {
            "sub": (connection.get("settings") or {}).get("subject", ""),
            "aud": "https://push.example",
        }
    )
    return "the VAPID key signs; send a push to a subscribed contact to try delivery"
