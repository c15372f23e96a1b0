"""Redaction: what a step, an error or a log line may keep of a request or answer.

Values under keys that name credentials are replaced, query values of such
keys in URLs too, and every known secret (a connection's) is blanked
wherever it appears.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
SECRET_KEY_PATTERN = re.compile(
    r"(pass(word)?|secret|token|api[-_]?key|apikey|authori[sz]ation|cookie|credential|"
    r"private[-_]?key|signature|^auth$|sessionid)",
    re.IGNORECASE,
)


def is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and bool(SECRET_KEY_PATTERN.search(key))


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of `value` with credential-named keys and known secret strings blanked."""
    secrets = tuple(sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True))
    return _redact(value, secrets)


def _redact(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED
            if is_secret_key(key) and item not in (None, "")
            else _redact(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    return value


def redact_url(url: str) -> str:
    """The URL with credentials in its userinfo and credential-named query values blanked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_key(key) for key, _ in pairs):
            query = urlencode([(k, REDACTED if is_secret_key(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
