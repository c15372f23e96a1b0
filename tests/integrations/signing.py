"""Sign inbound webhook deliveries the way a Standard Webhooks sender does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

from rest_framework.test import APIClient

from integrations.models import WebhookSecret


def workflow_secret(workflow) -> str:
    """A signing secret of the workflow (a new one when it has none)."""
    _secret, raw = WebhookSecret.rotate(workflow.pk)
    return raw


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    # Written from the spec, independently of integrations.standard_webhooks.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_post(
    path: str,
    payload,
    secret: str,
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
    body: bytes | None = None,
    signature: str | None = None,
):
    raw = body if body is not None else json.dumps(payload).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(timestamp),
        "HTTP_WEBHOOK_SIGNATURE": signature or sign(secret, msg_id, timestamp, raw),
    }
    return APIClient().generic("POST", path, raw, content_type="application/json", **headers)
