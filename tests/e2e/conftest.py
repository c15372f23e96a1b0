"""Browser tests: a real Cairn server, Debian's Chromium driven by Playwright, real users.

- `live_server_url` (session): Daphne started as a subprocess on the pytest test
  database, executing runs on the real `celery_worker` (CAIRN_EXECUTION=celery,
  the same REDIS_URL), with DEBUG off and static files collected, as in production.
- `browser`: one Chromium for all browser tests (`/usr/bin/chromium`, never a
  browser Playwright downloads), started on first use and stopped once the
  browser tests are done.
- `page`: a fresh context (1280x800, `base_url` = the live server, so
  `page.goto("/login/")` works) whose console errors/warnings and uncaught page
  errors are collected in `page.console_problems`; a failing test leaves a
  screenshot in test-results/e2e/.
- `editor_user(role=...)`: a non-staff member of a fresh workspace, committed
  (browser tests use `transactional_db`: the server sees only committed rows),
  password E2E_PASSWORD.

Playwright's sync API runs an asyncio loop in the test thread while it is
started, and Django refuses ORM calls from a thread with a running loop; so
DJANGO_ALLOW_ASYNC_UNSAFE is set exactly while the browser runs (never for the
rest of the suite).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import the_test_database_url

ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "test-results" / "e2e"
BUNDLE_MANIFEST = ROOT / "static" / "build" / ".vite" / "manifest.json"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
E2E_PASSWORD = "pw-e2e-123"
SERVER_START_SECONDS = 60
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 6000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


# ------------------------------------------------------------------ the server

_server_log: Path | None = None


@pytest.fixture(scope="session")
def live_server_url(
    celery_worker, smtp_server, django_db_blocker, tmp_path_factory
) -> Iterator[str]:
    """http://127.0.0.1:<port> of a real Daphne serving Cairn on the test database."""
    global _server_log
    from django.conf import settings

    if not BUNDLE_MANIFEST.exists():
        pytest.fail(
            f"the canvas bundle is not built ({BUNDLE_MANIFEST.relative_to(ROOT)} is missing): "
            "run `make bundle` or `npm --prefix frontend run build`"
        )
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": the_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CAIRN_EXECUTION": "celery",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": origin,
        "LOG_LEVEL": "INFO",
    }
    env.pop(ASYNC_UNSAFE, None)
    # DEBUG is off: whitenoise serves the collected files, as in production.
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if collected.returncode:
        pytest.fail(f"collectstatic failed:\n{collected.stdout}{collected.stderr}")

    log_path = tmp_path_factory.mktemp("live-server") / "daphne.log"
    _server_log = log_path
    log_file = open(log_path, "w")  # noqa: SIM115 (kept open for the server's lifetime)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("daphne")),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{origin}/login/", timeout=2) as answer:
                if answer.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log_file.flush()
            process.kill()
            pytest.fail(
                f"the Cairn server did not answer on {origin} within {SERVER_START_SECONDS}s "
                f"(exit code {process.poll()}):\n{_tail(log_path)}"
            )
        time.sleep(0.2)
    yield origin
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log_file.close()


# ------------------------------------------------------------------ the browser


class _Browser:
    """One Playwright + Chromium, started on first use, stopped when the browser tests end."""

    def __init__(self):
        self.playwright = None
        self.browser = None
        self.saved_async_unsafe: str | None = None

    def get(self):
        if self.browser is None:
            if not Path(CHROMIUM).exists():
                pytest.fail(
                    f"{CHROMIUM} is missing: install Debian's chromium "
                    "(apt-get install chromium; `make test` does it when run as root)"
                )
            from playwright.sync_api import sync_playwright

            self.saved_async_unsafe = os.environ.get(ASYNC_UNSAFE)
            os.environ[ASYNC_UNSAFE] = "true"
            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
        return self.browser

    def stop(self) -> None:
        if self.playwright is None:
            return
        try:
            if self.browser is not None:
                self.browser.close()
        finally:
            self.playwright.stop()
            self.playwright = self.browser = None
            if self.saved_async_unsafe is None:
                os.environ.pop(ASYNC_UNSAFE, None)
            else:
                os.environ[ASYNC_UNSAFE] = self.saved_async_unsafe


_shared = _Browser()


@pytest.fixture(scope="session")
def _browser_session() -> Iterator[_Browser]:
    yield _shared
    _shared.stop()


@pytest.fixture
def browser(_browser_session):
    """Chromium (Playwright's sync Browser), shared by every browser test."""
    return _browser_session.get()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    # After the test's own fixtures are torn down: once the next test is not a
    # browser test, stop the browser so its event loop never reaches the rest
    # of the suite.
    result = yield
    if nextitem is None or E2E_DIR not in Path(nextitem.path).parents:
        _shared.stop()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    if report.failed and _server_log is not None:
        report.sections.append(("Cairn server log (last lines)", _tail(_server_log, 4000)))
    return report


@pytest.fixture
def page(browser, live_server_url, request):
    """A new page in a fresh context; `page.console_problems` lists console errors/warnings."""
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server_url)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message) -> None:
        if message.type in ("error", "warning"):
            where = message.location or {}
            problems.append(
                f"console.{message.type}: {message.text} "
                f"({where.get('url', '')}:{where.get('lineNumber', '')})"
            )

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.console_problems = problems
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.nodeid)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as error:  # the page may be gone; the test's failure matters more
            problems.append(f"(no screenshot: {error})")
    context.close()


# ------------------------------------------------------------------ people


@pytest.fixture
def editor_user(transactional_db) -> Callable:
    """editor_user(role="publisher") -> a non-staff user, member of a fresh workspace.

    The user has `.workspace` (the Workspace) and `.raw_password` (E2E_PASSWORD).
    """
    from django.contrib.auth import get_user_model

    from builder.models import Membership, Role, Workspace

    counter = iter(range(1, 10_000))

    def make(role: str = Role.PUBLISHER, *, username: str | None = None, workspace=None):
        n = next(counter)
        if workspace is None:
            workspace = Workspace.objects.create(name=f"E2E workspace {n}", slug=f"e2e-{n}")
        user = get_user_model().objects.create_user(
            username or f"editor{n}", email=f"editor{n}@example.com", password=E2E_PASSWORD
        )
        Membership.objects.create(workspace=workspace, user=user, role=role)
        user.workspace = workspace
        user.raw_password = E2E_PASSWORD
        return user

    return make
