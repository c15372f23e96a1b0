"""REQUEST_MAX_BYTES for every HTTP request, whether or not it says its length.

Django's ASGIHandler reads the whole body before any middleware runs, and a
body sent with `Transfer-Encoding: chunked` has no Content-Length, so Django
then reads it as empty. `BodySizeLimit` wraps the ASGI application (see
config/asgi.py) and, before Django sees the request:

- refuses a declared Content-Length over the limit at once, without reading;
- reads a body of unknown length only up to the limit: one byte more and the
  answer is a JSON 413; under it, the body is handed on with its
  Content-Length set, so the API reads what was sent instead of nothing.

Daphne (Twisted) receives a whole request body before it calls the
application, so `guard_daphne()` also makes Daphne stop receiving at the
limit: the client gets the same 413 and the connection is closed instead of
the server spooling hundreds of megabytes first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

log = logging.getLogger("cairn.http")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def limit() -> int | None:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_body(declared: int | None, max_bytes: int) -> bytes:
    if declared is None:
        message = f"the request body is over the limit of {max_bytes} bytes (REQUEST_MAX_BYTES)"
    else:
        message = (
            f"the request body is {declared} bytes; the limit is {max_bytes} (REQUEST_MAX_BYTES)"
        )
    return json.dumps({"detail": f"body: {message}", "errors": {"body": [message]}}).encode()


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # Django answers a malformed length itself
    return None


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the application a body already read, then goes on
    with the connection's own messages (a disconnect)."""
    replayed = False

    async def receive_again() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


class BodySizeLimit:
    """ASGI middleware: no request body over REQUEST_MAX_BYTES reaches the application."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        max_bytes = limit()
        if scope["type"] != "http" or max_bytes is None:
            return await self.app(scope, receive, send)
        declared = _declared_length(scope)
        if declared is not None:
            if declared > max_bytes:
                return await self._refuse(send, declared, max_bytes)
            return await self.app(scope, receive, send)
        # No Content-Length (chunked, or no body at all): read it here, up to the limit.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                return await self._refuse(send, None, max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            scope = {
                **scope,
                "headers": [*scope["headers"], (b"content-length", str(len(body)).encode())],
            }
        return await self.app(scope, replay(body, receive), send)

    @staticmethod
    async def _refuse(send: Send, declared: int | None, max_bytes: int) -> None:
        body = too_large_body(declared, max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def guard_daphne() -> None:
    """Make Daphne stop receiving a request body at REQUEST_MAX_BYTES (when Daphne serves).

    Twisted's Request collects the body (handleContentChunk) before Daphne
    passes anything to the application; past the limit this answers the 413
    and closes the connection, so nothing more is read or spooled.
    """
    import sys

    module = sys.modules.get("daphne.http_protocol")
    if module is None or getattr(module.WebRequest, "_cairn_body_limit", False):
        return
    request_class = module.WebRequest
    got_length = request_class.gotLength
    receive_chunk = request_class.handleContentChunk
    process = request_class.process

    def refuse(request, declared: int | None, max_bytes: int) -> None:
        request._cairn_refused = True
        body = too_large_body(declared, max_bytes)
        log.warning("refused a request body over %s bytes from %s", max_bytes, request.client)
        transport = request.channel.transport
        transport.write(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        # Stops reading at once; what was written is still sent before the close.
        transport.loseConnection()

    def gotLength(self, length: int | None) -> None:
        got_length(self, length)
        max_bytes = limit()
        if length is not None and max_bytes is not None and length > max_bytes:
            refuse(self, length, max_bytes)

    def handleContentChunk(self, data: bytes) -> None:
        if getattr(self, "_cairn_refused", False):
            return
        max_bytes = limit()
        received = getattr(self, "_cairn_received", 0) + len(data)
        self._cairn_received = received
        if max_bytes is not None and received > max_bytes:
            refuse(self, None, max_bytes)
            return
        receive_chunk(self, data)

    def guarded_process(self):
        if getattr(self, "_cairn_refused", False):
            return None  # answered already; the application never sees it
        return process(self)

    request_class.gotLength = gotLength
    request_class.handleContentChunk = handleContentChunk
    request_class.process = guarded_process
    request_class._cairn_body_limit = True
