"""A real Cairn web server (Daphne, as the Procfile starts it) on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT, _free_port, the_test_database_url, wait_until


@contextmanager
def daphne(tmp_path: Path, **env_overrides: str) -> Iterator[str]:
    """Start `daphne config.asgi:application` with these settings; yield its base URL."""
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": the_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CAIRN_EXECUTION": "celery",
        "DEBUG": "false",
        **env_overrides,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    port = _free_port()
    log_path = tmp_path / f"daphne-{port}.log"
    log = open(log_path, "w")  # noqa: SIM115 (kept open for the server's lifetime)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("daphne")),
            *("-b", "127.0.0.1", "-p", str(port), "config.asgi:application"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"daphne exited:\n{log_path.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{url}/login/", timeout=2)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    try:
        wait_until(answers, timeout=60, what="daphne answers")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
