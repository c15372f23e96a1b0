"""Standard Webhooks (standardwebhooks.com): sign outbound, verify inbound.

A secret is `whsec_` + base64 of 24 to 64 random bytes; the HMAC key is those
bytes. The signed content is `{webhook-id}.{webhook-timestamp}.{raw body}`;
`webhook-signature` is a space-separated list of `v1,<base64 HMAC-SHA256>`,
so a sender can sign with two secrets while a receiver rotates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random
import time
from collections.abc import Iterable

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


class VerificationError(Exception):
    """Why a delivery is refused (safe to tell the sender)."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(random.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    raw = secret[len(PREFIX) :] if secret.startswith(PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as error:
        raise ValueError("a Standard Webhooks secret is 'whsec_' followed by base64") from error


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def message_id(idempotency_key: str) -> str:
    """A webhook-id derived from the step's idempotency key: the same on every retry."""
    return "msg_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def sign_headers(secret: str, msg_id: str, body: bytes, *, now: float | None = None) -> dict:
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }


def verify(
    secrets: Iterable[str],
    headers,
    body: bytes,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> tuple[str, int]:
    """Check a delivery against any of `secrets`; returns (webhook-id, timestamp).

    Raises VerificationError for missing headers, a timestamp outside the
    window (either way), or no matching signature (compared in constant time).
    """
    msg_id = (headers.get("webhook-id") or "").strip()
    stamp = (headers.get("webhook-timestamp") or "").strip()
    given = (headers.get("webhook-signature") or "").strip()
    if not (msg_id and stamp and given):
        raise VerificationError(
            "the request is not signed: webhook-id, webhook-timestamp and "
            "webhook-signature headers are required (Standard Webhooks)"
        )
    try:
        timestamp = int(stamp)
    except ValueError:
        raise VerificationError("webhook-timestamp is not a Unix time in seconds") from None
    current = int(time.time() if now is None else now)
    if abs(current - timestamp) > tolerance:
        raise VerificationError(
            f"webhook-timestamp is more than {tolerance} seconds away from now; "
            "sign each delivery when you send it"
        )
    offered = [part.split(",", 1)[1] for part in given.split() if part.startswith("v1,")]
    for secret in secrets:
        expected = signature(secret, msg_id, timestamp, body).split(",", 1)[1]
        if any(hmac.compare_digest(expected.encode(), sig.encode()) for sig in offered):
            return msg_id, timestamp
    raise VerificationError("no webhook-signature matches this workflow's signing secret")
