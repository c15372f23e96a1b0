"""Real HTTP servers on 127.0.0.1 standing in for outside services.

`service` records every request (method, path, headers, raw body) and
answers with queued answers in order, then 200 `{"ok": true}`. An answer may
carry any headers (Retry-After, Location) and a delay.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.builder.conftest import (  # noqa: F401 (shared fixtures)
    client_a,
    client_b,
    client_for,
    workspace_a,
    workspace_b,
)


class FakeService:
    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[dict] = []
        self.lock = threading.Lock()
        self.url = ""
        self.port = 0

    def answer(self, status=200, body=None, *, headers=None, delay=0.0, content_type=None):
        if body is None:
            body = {"ok": True}
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        ctype = content_type or (
            "application/json" if not isinstance(body, bytes) else "text/plain"
        )
        with self.lock:
            self.answers.append(
                {
                    "status": status,
                    "body": raw,
                    "headers": dict(headers or {}),
                    "delay": delay,
                    "content_type": ctype,
                }
            )

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.answers.clear()

    def json(self, index=0):
        return json.loads(self.requests[index]["body"])


def _serve(service: FakeService):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with service.lock:
                service.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": raw,
                    }
                )
                answer = service.answers.pop(0) if service.answers else None
            answer = answer or {
                "status": 200,
                "body": b'{"ok": true}',
                "headers": {},
                "delay": 0,
                "content_type": "application/json",
            }
            if answer["delay"]:
                time.sleep(answer["delay"])
            try:
                self.send_response(answer["status"])
                self.send_header("Content-Type", answer["content_type"])
                self.send_header("Content-Length", str(len(answer["body"])))
                for name, value in answer["headers"].items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer["body"])
            except OSError:
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service.port = server.server_port
    service.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="session")
def _services():
    first, second = FakeService(), FakeService()
    servers = [_serve(first), _serve(second)]
    yield first, second
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def service(_services):
    """A fake outside service on 127.0.0.1 (allow-listed by the test settings)."""
    _services[0].reset()
    return _services[0]


@pytest.fixture
def other_service(_services):
    """A second one, e.g. the internal target a redirect points at."""
    _services[1].reset()
    return _services[1]


@pytest.fixture(autouse=True)
def _closed_circuits(settings):
    """Every test starts with every circuit closed (breaker state lives in Redis,
    which outlives the test database whose connection ids it is keyed by)."""
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter(match=":1:cb:*"))
        if keys:
            client.delete(*keys)
        client.close()
    else:
        from django.core.cache import caches

        caches["integrations"].clear()
