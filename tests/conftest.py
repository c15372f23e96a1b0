"""Shared test infrastructure: the real services the suite runs against.

- PostgreSQL and Redis must be up: a test that needs one fails (never skips)
  with the command that starts it.
- `celery_worker`: a real `celery worker` process (2 prefork children) and a
  `celery beat` process beside it (`celery_worker.beat`, which tests may kill),
  on the test database and a Redis database of its own.
- `smtp_server`: a real SMTP server on 127.0.0.1 the worker sends mail to.
- `http_target`: a real HTTP server on 127.0.0.1 for webhook actions.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 2
        ):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _real_services_are_up():
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url.startswith("postgres") and not _reachable(database_url, 5432):
        pytest.fail(f"PostgreSQL is not reachable at {database_url}. Start it: {START_POSTGRES}")
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url and not _reachable(redis_url, 6379):
        pytest.fail(f"Redis is not reachable at {redis_url}. Start it: {START_REDIS}")


FLUSH_ATTEMPTS = 5


@pytest.fixture(scope="session", autouse=True)
def _flush_outlasts_the_session_worker():
    """A transactional test ends by emptying every table in one TRUNCATE while
    the session's worker and beat may still be in a transaction on the test
    database (a drain starting runs, a sweep). PostgreSQL can pick the
    TRUNCATE as a deadlock's victim: it is tried again once that transaction
    is over, instead of leaving the rows to break the next test."""
    from django.core.management.base import CommandError
    from django.db import OperationalError
    from django.test import TransactionTestCase

    teardown = TransactionTestCase._fixture_teardown

    def teardown_again_after_a_deadlock(self):
        for attempt in range(1, FLUSH_ATTEMPTS + 1):
            try:
                return teardown(self)
            except CommandError as error:
                deadlock = isinstance(error.__cause__, OperationalError) and "deadlock" in str(
                    error.__cause__
                )
                if not deadlock or attempt == FLUSH_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)

    TransactionTestCase._fixture_teardown = teardown_again_after_a_deadlock
    yield
    TransactionTestCase._fixture_teardown = teardown


@pytest.fixture(autouse=True)
def _no_api_key_cached_from_another_test():
    """Each test's database starts afresh; so does the web process's API key cache."""
    from builder.api.auth import _found

    _found.clear()


def the_test_database_url() -> str:
    """DATABASE_URL of the pytest test database, for the processes tests start."""
    from django.db import connection

    database = connection.settings_dict
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    return (
        f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


def wait_until(
    predicate: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.1, what: str = ""
):
    """Poll until `predicate()` is truthy; return its value, or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout}s: {what or predicate}")
        time.sleep(interval)


# ------------------------------------------------------------------ SMTP


class _Mailbox:
    def __init__(self):
        self.messages: list[dict] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        message = message_from_bytes(envelope.content, policy=default)
        body = message.get_body(preferencelist=("plain",))
        with self._lock:
            self.messages.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "subject": str(message["subject"]),
                    "body": body.get_content() if body else "",
                    "message_id": str(message["message-id"]),
                }
            )
        return "250 OK"

    def to(self, address: str) -> list[dict]:
        with self._lock:
            return [m for m in self.messages if address in m["to"]]


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture
def outbox(smtp_server):
    smtp_server.messages.clear()
    return smtp_server


# ------------------------------------------------------------------ HTTP target


class HttpTarget:
    """Records every request; answers with the queued answers in order, then 200 `{}`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[tuple] = []
        self.lock = threading.Lock()
        self.url = ""

    def answer(self, status=200, body=b'{"ok": true}', content_type="application/json", delay=0.0):
        with self.lock:
            self.answers.append((status, body, content_type, delay))

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.answers.clear()


@pytest.fixture(scope="session")
def _http_server():
    target = HttpTarget()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with target.lock:
                target.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": raw,
                    }
                )
                answer = target.answers.pop(0) if target.answers else None
            status, body, content_type, delay = answer or (200, b"{}", "application/json", 0)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (timeout tests)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    target.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield target
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_target(_http_server):
    _http_server.reset()
    return _http_server


# ------------------------------------------------------------------ Celery worker


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, smtp_server, tmp_path_factory):
    """A real Celery worker and its beat (`.beat`, a process of its own), on the test database."""
    from django.conf import settings

    from config.celery import app

    workdir = tmp_path_factory.mktemp("celery")
    env = {
        **os.environ,
        "DATABASE_URL": the_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CAIRN_EXECUTION": "celery",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "ACTION_RETRY_BASE_SECONDS": "0.5",
        "ACTION_RETRY_MAX_SECONDS": "2",
        "ACTION_MAX_ATTEMPTS": "3",
        "RUN_LEASE_SECONDS": "5",
        "RUN_MAX_STEPS": os.environ.get("RUN_MAX_STEPS", "500"),
        "LOG_LEVEL": "INFO",
    }
    app.control.purge()
    log_path = workdir / "worker.log"
    log_file = open(log_path, "w")  # noqa: SIM115 (kept open for the worker's lifetime)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "housekeeping,high,normal,low",
            "--concurrency=2",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            f"--hostname=tests-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            log_file.flush()
            pytest.fail(f"the Celery worker did not start:\n{log_path.read_text()[-4000:]}")
    process.log_path = log_path
    # Beat in a process of its own, as the Procfile runs it, so a test can kill it.
    process.beat = Beat(env, workdir / "beat.log")
    process.beat.start()
    yield process
    process.beat.stop()
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log_file.close()


class Beat:
    """`celery beat` for the test worker: the timer sweep, the reaper, schedules."""

    def __init__(self, env: dict, log_path: Path):
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "a")  # noqa: SIM115 (the process keeps it)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """kill -9: no goodbye, no cleanup."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def drain_held():
    """Pending events stay pending: the test holds the drainer's lock (the
    session's beat would otherwise ingest them while the test reads them)."""
    import psycopg

    from automation import pending_events

    with psycopg.connect(the_test_database_url().replace("postgres://", "postgresql://")) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [pending_events.DRAIN_LOCK_KEY])
        yield
        conn.execute("SELECT pg_advisory_unlock(%s)", [pending_events.DRAIN_LOCK_KEY])
