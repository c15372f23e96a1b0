"""The one guarded outbound HTTP client (DESIGN.md, "Serving").

Every request to an outside system goes through `request()`:

- the destination is resolved and checked by `guard.resolve` (private,
  loopback, link-local, multicast, metadata refused unless allow-listed) and
  the connection is made to the checked address, so a name cannot resolve
  to one address for the check and another for the call;
- redirects are followed by hand, each hop checked the same way, and
  credentials (standard auth headers, headers whose names say so, every
  header a connection added whatever its name, Standard Webhooks
  signatures) are not carried to another origin;
- at most `OUTBOUND_MAX_RESPONSE_BYTES` of an answer are read; an answer
  that is not text is kept as base64 (`_decode`);
- an optional circuit breaker key (a connection) refuses to call a service
  that keeps failing, so runs wait instead of hammering it.

`raise_for_status` turns an answer into the engine's vocabulary: 429 and 5xx
are retryable (honouring `Retry-After`), other 4xx fail the step at once with
the (redacted) response kept on it.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from automation.nodes.base import NodeError, PermanentNodeError

from .. import destinations
from . import breaker, guard
from .redaction import is_secret_key, redact, redact_url

log = logging.getLogger("cairn.outbound")

USER_AGENT = "Cairn/1"
MAX_JSON_BYTES = 64 * 1024  # parse JSON answers up to this size
MAX_TEXT_CHARS = 10 * 1024  # keep this much of any other answer
MAX_BINARY_BYTES = MAX_TEXT_CHARS * 3 // 4  # of bytes, kept as base64: as long as the text kept
# Media types (besides text/*) whose answers are text; any other is kept as base64.
TEXT_KINDS = ("json", "xml", "javascript", "x-www-form-urlencoded", "csv", "yaml", "graphql")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# Headers that carry credentials: dropped when a redirect leaves the origin,
# with any header whose name says it is one (redaction.is_secret_key) and
# the headers a caller marks as credentials (a connection's, whatever the name).
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization", "x-api-key")
# A Standard Webhooks signature vouches for this request to this receiver only.
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class CredentialsRefused(PermanentNodeError):
    """A connection's credentials were about to go to a site it is not for; nothing was sent."""


@dataclass
class Response:
    status: int
    reason: str
    headers: httpx.Headers
    body: Any  # parsed JSON, or text cut to MAX_TEXT_CHARS
    url: str  # the final URL (after redirects), query values redacted
    method: str
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def captured(self) -> dict[str, Any]:
        """What a step keeps: bounded and redacted (credentials, tokens, known secrets)."""
        return {
            "status": self.status,
            "body": redact(self.body, self.secrets),
            "content_type": self.headers.get("content-type", ""),
        }


def _tls():
    """Certificate verification: the system's CAs, or OUTBOUND_CA_BUNDLE (a private CA)."""
    bundle = getattr(settings, "OUTBOUND_CA_BUNDLE", "")
    if not bundle:
        return True
    import ssl

    return ssl.create_default_context(cafile=bundle)


def default_timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10.0))


def _max_bytes() -> int:
    return int(getattr(settings, "OUTBOUND_MAX_RESPONSE_BYTES", 1024 * 1024))


def _read(response: httpx.Response) -> bytes:
    limit = _max_bytes()
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _is_text(media_type: str, raw: bytes) -> bool:
    """Whether an answer is text (kept as such) rather than bytes (kept as base64).

    By its content type; an answer without one is text if it is UTF-8 without NUL.
    """
    if not media_type:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return b"\x00" not in raw
    return media_type.startswith("text/") or any(kind in media_type for kind in TEXT_KINDS)


def _decode(response: httpx.Response, raw: bytes, secrets: tuple[str, ...] = ()) -> Any:
    """What a step keeps of an answer's body: parsed JSON, text, or base64 of bytes.

    Text may still hold characters a database refuses (NUL, lone surrogates
    from JSON escapes): automation.safe_json.storable replaces them when the
    step is written. Bytes are kept as `{"base64", "content_type", "size",
    "truncated"}`, at most MAX_BINARY_BYTES of them, with the connection's
    secrets cut out first (base64 would hide them from redaction).
    """
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if "json" in media_type and len(raw) <= MAX_JSON_BYTES:
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):  # nested too deep for the parser: kept as text
            pass
    if not _is_text(media_type, raw):
        size = len(raw)
        for secret in secrets:
            raw = raw.replace(secret.encode(), b"[redacted]")
        return {
            "base64": base64.b64encode(raw[:MAX_BINARY_BYTES]).decode("ascii"),
            "content_type": content_type,
            "size": size,
            "truncated": len(raw) > MAX_BINARY_BYTES,
        }
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    return text[:MAX_TEXT_CHARS]


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _without_credentials(headers: Mapping[str, str], marked: set[str]) -> dict[str, str]:
    """The headers that may follow a redirect to another origin."""
    dropped = {*CREDENTIAL_HEADERS, *SIGNATURE_HEADERS, *marked}
    return {
        name: value
        for name, value in headers.items()
        if name.lower() not in dropped and not is_secret_key(name)
    }


def _send(
    http: httpx.Client,
    method: str,
    url: httpx.URL,
    destination: guard.Destination,
    headers: Mapping[str, str],
    body: bytes | None,
) -> httpx.Response:
    """Open the request to the checked addresses, in order, until one connects.

    The URL's host stays in the Host header and is the TLS server name, so
    the certificate is verified against it, not against the address.
    """
    host_header = url.netloc.decode("ascii").rsplit("@", 1)[-1]
    extensions: dict[str, Any] = {"sni_hostname": url.host} if url.scheme == "https" else {}
    refused: httpx.ConnectError | None = None
    for address in destination.addresses:
        request = http.build_request(
            method,
            url.copy_with(host=address),
            headers={**headers, "Host": host_header},
            content=body,
            extensions=extensions,
        )
        try:
            return http.send(request, stream=True)
        except httpx.ConnectError as error:
            refused = error  # e.g. an IPv6 address on a host without IPv6: try the next
    assert refused is not None
    raise refused


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    timeout: float | None = None,
    follow_redirects: bool = True,
    breaker_key: str = "",
    secrets: Iterable[str] = (),
    credential_headers: Iterable[str] = (),
    credentials_for: Iterable[destinations.Origin] | None = None,
) -> Response:
    """Send one request through the guard; returns the answer whatever its status.

    `credential_headers`: names of headers that carry credentials although
    their names do not say so (a connection's custom auth header); like
    Authorization, they are not sent on once a redirect leaves the origin.

    `credentials_for`: the origins the connection whose credentials this
    request carries is for (integrations.destinations); a URL elsewhere is
    refused before anything is sent.

    Raises OutboundRefused (nothing sent) for a refused destination, NodeError
    for network failures and timeouts, CircuitOpen while the breaker is open.
    """
    timeout = default_timeout() if timeout is None else float(timeout)
    secrets = tuple(s for s in secrets if s)
    try:
        current = httpx.URL(url.strip())
    except Exception as error:
        raise PermanentNodeError(f"url: {url!r} is not a valid URL") from error
    if current.scheme not in ("http", "https") or not current.host:
        raise PermanentNodeError(f"url: {redact_url(url)} must start with http:// or https://")
    if credentials_for is not None:
        origins = list(credentials_for)
        if not destinations.allowed(origins, str(current)):
            raise CredentialsRefused(
                f"url: {destinations.refusal(origins)} Nothing was sent to "
                f"{destinations.origin_of(str(current))}."
            )
    if breaker_key:
        breaker.check(breaker_key)
    send_headers = {"User-Agent": USER_AGENT, **dict(headers or {})}
    marked = {name.lower() for name in credential_headers}
    max_redirects = int(getattr(settings, "OUTBOUND_MAX_REDIRECTS", 5))
    body = content
    try:
        with httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls()
        ) as http:
            for _hop in range(max_redirects + 1):
                where = redact_url(str(current))
                destination = guard.resolve(
                    current.host,
                    current.port or (443 if current.scheme == "https" else 80),
                    where=where,
                )
                answer = _send(http, method, current, destination, send_headers, body)
                try:
                    location = answer.headers.get("location", "")
                    if follow_redirects and answer.status_code in REDIRECT_STATUSES and location:
                        following = current.join(location)
                        if following.scheme not in ("http", "https"):
                            raise PermanentNodeError(
                                f"{method} {where} redirects to {redact_url(str(following))}, "
                                "which is not http(s)"
                            )
                        if _origin(following) != _origin(current):
                            send_headers = _without_credentials(send_headers, marked)
                        if answer.status_code == 303 or (
                            answer.status_code in (301, 302) and method == "POST"
                        ):
                            method, body = "GET", None
                            send_headers = {
                                k: v for k, v in send_headers.items() if k.lower() != "content-type"
                            }
                        current = following
                        continue
                    raw = _read(answer)
                    response = Response(
                        status=answer.status_code,
                        reason=answer.reason_phrase,
                        headers=answer.headers,
                        body=_decode(answer, raw, secrets),
                        url=redact_url(str(current)),
                        method=method,
                        secrets=secrets,
                    )
                    break
                finally:
                    answer.close()
            else:
                raise PermanentNodeError(
                    f"{method} {redact_url(url)} redirected more than {max_redirects} times"
                )
    except httpx.TimeoutException as error:
        if breaker_key:
            breaker.failure(breaker_key)
        raise NodeError(
            f"{method} {redact_url(str(current))} timed out after {timeout:g}s"
        ) from error
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise PermanentNodeError(
            f"url: {redact_url(str(current))} cannot be called: {error}"
        ) from error
    except httpx.HTTPError as error:
        if breaker_key:
            breaker.failure(breaker_key)
        message = redact(str(error), secrets)
        raise NodeError(f"{method} {redact_url(str(current))} failed: {message}") from error
    if breaker_key:
        if response.status >= 500:
            breaker.failure(breaker_key)
        else:
            breaker.success(breaker_key)
    log.info("%s %s answered %s", method, response.url, response.status)
    return response


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def raise_for_status(response: Response, *, what: str = "") -> Response:
    """Return a 2xx answer; raise what the engine should do with any other.

    429 and 5xx: NodeError (retried with backoff, not before Retry-After).
    3xx left unfollowed and other 4xx: PermanentNodeError; the step keeps
    the redacted response as its output.
    """
    status = response.status
    if 200 <= status < 300:
        return response
    label = what or f"{response.method} {response.url}"
    answer = f"{label} answered {status} {response.reason}".rstrip()
    kept = response.captured()
    if status >= 500 or status == 429:
        raise NodeError(
            answer, retry_after=retry_after_seconds(response.headers), output={"response": kept}
        )
    if 300 <= status < 400:
        location = redact_url(response.headers.get("location", ""))
        raise PermanentNodeError(
            f"{answer} (redirect to {location or 'nowhere'})", output={"response": kept}
        )
    # The answer's body stays on the step's output (for editors), not in
    # the error text every viewer reads.
    raise PermanentNodeError(answer, output={"response": kept})
