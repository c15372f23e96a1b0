"""HTTP transport for action.webhook (httpx).

Every request carries `Idempotency-Key: <step key>`, stable across retries of
one visit of one node, so a receiver can drop a repeat after a crash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from django.conf import settings

from automation.nodes.base import NodeError, PermanentNodeError

USER_AGENT = "Cairn/1"
MAX_READ_BYTES = 1024 * 1024  # read at most this much of a response
MAX_JSON_BYTES = 64 * 1024  # parse JSON answers up to this size
MAX_TEXT_CHARS = 10 * 1024  # keep this much of any other answer


def default_timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10.0))


def _where(url: str) -> str:
    """The URL without its query string (which may carry a token) for error messages."""
    try:
        parsed = httpx.URL(url)
    except Exception:
        return url
    return str(parsed.copy_with(query=None, fragment=None))


def _read(response: httpx.Response) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_READ_BYTES:
            break
    return b"".join(chunks)[:MAX_READ_BYTES]


def _decode(response: httpx.Response, raw: bytes) -> Any:
    """Parsed JSON for a JSON answer of reasonable size; otherwise text cut to 10 KB."""
    content_type = response.headers.get("content-type", "")
    if "json" in content_type and len(raw) <= MAX_JSON_BYTES:
        try:
            return json.loads(raw)
        except ValueError:
            pass
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    return text[:MAX_TEXT_CHARS]


def send_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    text: str | None = None,
    json_body: Any = None,
    timeout: float | None = None,
    idempotency_key: str = "",
) -> dict[str, Any]:
    """Send one request; returns {"status", "body", "url", "method"}.

    Raises NodeError for what a retry may fix (network errors, timeouts, 5xx,
    429) and PermanentNodeError for the rest of 3xx/4xx and unusable URLs.
    """
    timeout = default_timeout() if timeout is None else float(timeout)
    request_headers = {"User-Agent": USER_AGENT, **dict(headers or {})}
    if idempotency_key:
        request_headers["Idempotency-Key"] = idempotency_key
    kwargs: dict[str, Any] = {"headers": request_headers}
    if json_body is not None:
        kwargs["content"] = json.dumps(json_body).encode()
        if not any(name.lower() == "content-type" for name in request_headers):
            request_headers["Content-Type"] = "application/json"
    elif text is not None:
        kwargs["content"] = text.encode()
    where = _where(url)
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as http,
            http.stream(method, url, **kwargs) as response,
        ):
            raw = _read(response)
    except httpx.TimeoutException as error:
        raise NodeError(f"{method} {where} timed out after {timeout:g}s") from error
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise PermanentNodeError(f"url: {where} cannot be called: {error}") from error
    except httpx.HTTPError as error:
        raise NodeError(f"{method} {where} failed: {error}") from error

    status = response.status_code
    body = _decode(response, raw)
    answer = f"{method} {where} answered {status} {response.reason_phrase}".rstrip()
    if status >= 500 or status == 429:
        raise NodeError(answer)
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        raise PermanentNodeError(f"{answer} (redirect to {location}; use that URL instead)")
    if status >= 400:
        snippet = body if isinstance(body, str) else json.dumps(body)
        snippet = " ".join(snippet.split())[:300]
        raise PermanentNodeError(f"{answer}: {snippet}" if snippet else answer)
    return {"status": status, "body": body, "url": url, "method": method}
