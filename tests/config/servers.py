"""A real Cairn web server on the test database: Daphne (as `make run` starts the
embedded default) or uvicorn (as the Procfile starts the production shape)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, _free_port, the_test_database_url, wait_until


@contextmanager
def daphne(tmp_path: Path, **env_overrides: str) -> Iterator[str]:
    """Start `daphne config.asgi:application` with these settings; yield its base URL."""
    port = _free_port()
    argv = ["daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    with _server(tmp_path, port, argv, env_overrides) as server:
        yield server.url


@contextmanager
def uvicorn(tmp_path: Path, **env_overrides: str) -> Iterator[str]:
    """Start one uvicorn process on config.asgi:application, as the Procfile's web
    line does (httptools, uvloop); yield its base URL."""
    with uvicorn_server(tmp_path, **env_overrides) as server:
        yield server.url


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path


@contextmanager
def uvicorn_server(tmp_path: Path, **env_overrides: str) -> Iterator[Server]:
    """`uvicorn`, yielding the server's process too (to kill it)."""
    port = _free_port()
    argv = [
        "uvicorn",
        "config.asgi:application",
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools", "--lifespan", "off", "--no-access-log"),
    ]
    with _server(tmp_path, port, argv, env_overrides) as server:
        yield server


@contextmanager
def _server(tmp_path: Path, port: int, argv: list[str], env_overrides: dict) -> Iterator[Server]:
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
    name = argv[0]
    log_path = tmp_path / f"{name}-{port}.log"
    log = open(log_path, "w")  # noqa: SIM115 (kept open for the server's lifetime)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name(name)), *argv[1:]],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"{name} exited:\n{log_path.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{url}/login/", timeout=2)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    try:
        wait_until(answers, timeout=60, what=f"{name} answers")
        yield Server(url, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
