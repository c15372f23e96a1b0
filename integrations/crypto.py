"""Encryption at rest for stored credentials: Fernet keys of their own.

`CONNECTION_ENCRYPTION_KEYS` lists Fernet keys, newest first. MultiFernet
encrypts with the first and decrypts with any, so rotating is: put a new key
in front, run `manage.py rotate_connection_keys` (re-encrypts every row with
it), then drop the old key. The production shape refuses to start without
one; the embedded default makes one once into `.cairn-keys` (config/keys.py).

`CONNECTION_DECRYPTION_FALLBACK_KEYS` come last and only ever decrypt: the
keys earlier releases derived from SECRET_KEY, so connections stored before
this release stay readable until `rotate_connection_keys` re-encrypts them.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _keys() -> list[bytes]:
    configured = [k.strip() for k in settings.CONNECTION_ENCRYPTION_KEYS if k.strip()]
    if not configured:
        raise ImproperlyConfigured(
            "CONNECTION_ENCRYPTION_KEYS is empty: set one key (make one with `python -c "
            "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
        )
    fallbacks = getattr(settings, "CONNECTION_DECRYPTION_FALLBACK_KEYS", [])
    # The first key encrypts: a fallback is never first.
    return [k.encode() for k in [*configured, *fallbacks]]


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
