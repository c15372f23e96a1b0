"""One source of truth for settings: the process environment, then `.env`.

Invariant: `make run`, the processes it starts and every `manage.py` command
resolve a setting the same way, so a `.env` naming PostgreSQL and Redis gives
the production shape, and `create_api_key` writes its key into the database
the server reads (before, `make run` looked at shell variables only and the
key went into SQLite while the server used PostgreSQL: 401).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT, _free_port, the_test_database_url, wait_until

# Variables the test runner sets that a person starting Cairn would not have:
# each process must find its settings in the .env file only.
CLEARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "CAIRN_EXECUTION",
    "HOST",
    "PORT",
    "PUBLIC_BASE_URL",
    "CAIRN_ENV_FILE",
    "MAKEFLAGS",
    "MAKELEVEL",
    "MFLAGS",
)


def shell_env(env_file: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    return {**env, "CAIRN_ENV_FILE": str(env_file), **extra}


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_runmode_reads_the_env_file_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# Cairn on PostgreSQL and Redis\n"
        "export DATABASE_URL=postgres://cairn:secret@db.internal:5433/cairn\n"
        'REDIS_URL="redis://127.0.0.1:6379/3"   # the broker and channel layer\n'
        "PORT=9123\n"
    )

    from_file = manage(shell_env(env_file), "runmode")
    overridden = manage(shell_env(env_file, CAIRN_EXECUTION="embedded", PORT="9555"), "runmode")

    assert from_file.splitlines() == [
        "mode: production",
        "database: PostgreSQL cairn@db.internal:5433/cairn",
        "redis: redis://127.0.0.1:6379/3",
        f"settings: the environment, then {env_file}",
        "url: http://127.0.0.1:9123",
    ]
    assert "mode: embedded" in overridden.splitlines()
    assert "url: http://127.0.0.1:9555" in overridden.splitlines()


def test_without_settings_make_run_would_be_embedded_on_sqlite(tmp_path):
    output = manage(shell_env(tmp_path / "no-such-file"), "runmode")

    assert "mode: embedded" in output.splitlines()
    assert f"database: SQLite {ROOT / 'db.sqlite3'}" in output.splitlines()


# ---------------------------------------------------------------- make run, for real


@pytest.fixture
def scratch_database(django_db_setup, django_db_blocker):
    """An empty PostgreSQL database of its own, dropped afterwards."""
    with django_db_blocker.unblock():
        test_url = the_test_database_url()
    base, _, name = test_url.rpartition("/")
    scratch = f"{name}_envfile"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{scratch}"')
    yield f"{base}/{scratch}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def separate_redis(url: str) -> str:
    """Another Redis database than the suite's: this worker serves a scratch
    database, so it must never take the session worker's messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    db = parts.path.strip("/")
    number = int(db) if db.isdigit() else 0
    return parts._replace(path=f"/{(number + 8) % 16}").geturl()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_run_takes_its_mode_from_env_file_and_create_api_key_writes_where_it_serves(
    tmp_path, scratch_database
):
    from django.conf import settings

    port = _free_port()
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"DATABASE_URL={scratch_database}\n"
        f"REDIS_URL={separate_redis(settings.REDIS_URL)}\n"
        f"PORT={port}\n"
        "CAIRN_ADMIN_PASSWORD=make-run-test\n"
    )
    env = shell_env(env_file)
    log_path = tmp_path / "make-run.log"
    with open(log_path, "w") as log:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        if make.poll() is not None:
            pytest.fail(f"make run exited {make.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/login/", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    try:
        wait_until(serving, timeout=240, interval=0.5, what=f"make run serves {url}")
        wait_until(
            lambda: re.search(r"worker\.1 .*ready\.", log_path.read_text()),
            timeout=90,
            what="the Procfile's worker is ready",
        )
        output = log_path.read_text()
        assert "Production shape: uvicorn web processes + Celery worker + beat (Procfile)" in output
        assert f"PostgreSQL postgres@127.0.0.1:5432/{scratch_database.rsplit('/', 1)[1]}" in output
        assert f"Log in at {url}/login/ as admin" in output
        assert "beat.1" in output

        # As the README says, from another shell: only the .env is shared.
        created = manage(env, "create_api_key", "default", "from the env file")
        key = re.search(r"^\s+(cairn_\S+)$", created, re.MULTILINE).group(1)
        assert f"{url}/api/v1/workflows/" in created  # the hint has the real address

        request = urllib.request.Request(
            f"{url}/api/v1/workflows/", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        with psycopg.connect(scratch_database) as connection:
            (count,) = connection.execute(
                "SELECT count(*) FROM builder_apikey WHERE name = 'from the env file'"
            ).fetchone()
        assert count == 1
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGTERM)
        try:
            make.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait(timeout=10)
        deadline = time.monotonic() + 30
        while _port_open(port) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert not _port_open(port), "make run left its web server behind"
