"""REQUEST_MAX_BYTES holds on a real server for bodies with no Content-Length.

Invariant: no request body over the limit reaches the application or is
received in full by the server, whatever framing the client chooses; a body
under the limit is read as sent (a chunked body used to be read as empty).
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from automation.models import Event
from tests.builder.factories import WorkspaceFactory, make_api_key
from tests.config.servers import daphne

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 100_000
CHUNK = 64 * 1024


@pytest.fixture
def server(tmp_path):
    with daphne(tmp_path, REQUEST_MAX_BYTES=str(LIMIT)) as url:
        yield url


@pytest.fixture
def key():
    _key, raw = make_api_key(WorkspaceFactory())
    return raw


def _request_head(url: str, key: str, extra: str) -> bytes:
    parts = urlsplit(url)
    return (
        f"POST /api/v1/events HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


def _read_response(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while True:
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            break
        if not part:
            break
        data += part
        head, _, body = data.partition(b"\r\n\r\n")
        length = [
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ]
        if length and len(body) >= length[0]:
            break
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def _send_chunked(url: str, key: str, chunks) -> tuple[int, int, dict]:
    """POST with Transfer-Encoding: chunked; return (bytes sent, status, JSON answer)."""
    parts = urlsplit(url)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(_request_head(url, key, "Transfer-Encoding: chunked\r\n"))
        try:
            for chunk in chunks:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is waiting
        status, answer = _read_response(sock)
    return sent, status, answer


def test_a_chunked_body_over_the_limit_is_refused_at_the_limit_with_a_json_413(server, key):
    total = 200 * 1024 * 1024  # 200 MB offered, as in the issue
    sent, status, answer = _send_chunked(server, key, (b"x" * CHUNK for _ in range(total // CHUNK)))

    assert status == 413
    message = f"the request body is over the limit of {LIMIT} bytes (REQUEST_MAX_BYTES)"
    assert answer == {"detail": f"body: {message}", "errors": {"body": [message]}}
    # The server stopped reading near the limit (what socket buffers took, not 200 MB).
    assert sent < 32 * 1024 * 1024
    assert Event.objects.count() == 0


def test_a_chunked_body_under_the_limit_is_read_as_sent(server, key):
    event = {"id": "chunked-1", "type": "signup", "contact": {"email": "ada@example.com"}}
    body = json.dumps(event).encode()
    _sent, status, answer = _send_chunked(server, key, [body[:20], body[20:]])

    assert status == 202, answer
    assert answer["accepted"] == 1
    stored = Event.objects.get()
    assert (stored.client_id, stored.type, stored.contact.email) == (
        "chunked-1",
        "signup",
        "ada@example.com",
    )


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(server, key):
    parts = urlsplit(server)
    declared = 50 * 1024 * 1024
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(_request_head(server, key, f"Content-Length: {declared}\r\n"))
        status, answer = _read_response(sock)  # not a byte of the body sent

    assert status == 413
    assert answer["errors"]["body"] == [
        f"the request body is {declared} bytes; the limit is {LIMIT} (REQUEST_MAX_BYTES)"
    ]
    assert Event.objects.count() == 0
