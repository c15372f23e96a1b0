"""Encryption at rest for stored credentials: Fernet keys from the environment.

`CONNECTION_ENCRYPTION_KEYS` lists Fernet keys, newest first. MultiFernet
encrypts with the first and decrypts with any, so rotating is: put a new key
in front, run `manage.py rotate_connection_keys` (re-encrypts every row with
it), then drop the old key. With no key configured one is derived from
SECRET_KEY, which is fine for a laptop and said so in the README.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _keys() -> list[bytes]:
    configured = [k.strip() for k in settings.CONNECTION_ENCRYPTION_KEYS if k.strip()]
    if configured:
        return [k.encode() for k in configured]
    derived = hashlib.sha256(b"cairn-connections:" + settings.SECRET_KEY.encode()).digest()
    return [base64.urlsafe_b64encode(derived)]


def fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys()])
    except ValueError as error:
        raise ImproperlyConfigured(
            "CONNECTION_ENCRYPTION_KEYS: each key must be 32 url-safe base64-encoded bytes "
            "(make one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)"
        ) from error


def encrypt(data: dict[str, Any]) -> str:
    return fernet().encrypt(json.dumps(data).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "a stored credential cannot be decrypted with CONNECTION_ENCRYPTION_KEYS "
            "(was the key that encrypted it removed?)"
        ) from error


def rotate(token: str) -> str:
    """The same plaintext encrypted with the newest key."""
    return fernet().rotate(token.encode()).decode() if token else token


def hint(secret: str) -> str:
    """What may be shown of a secret: its last four characters, if it is long enough."""
    secret = str(secret)
    return f"••••{secret[-4:]}" if len(secret) >= 16 else "••••"
