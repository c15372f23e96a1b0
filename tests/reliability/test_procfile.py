"""The production shape as `make run` starts it: honcho running the Procfile.

Invariant: one process of the stack dying (kill -9 of beat or of the
worker) restarts that process; honcho does not stop the whole stack.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.conftest import ROOT, _free_port, the_test_database_url, wait_until


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def descendants(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().decode().replace("\0", " ")
    except OSError:
        return ""


def celery_beat_pids(root: int) -> list[int]:
    return [
        pid
        for pid in descendants(root)
        if "celery -A config beat" in (line := command_line(pid)) and "while true" not in line
    ]


@pytest.mark.django_db(transaction=True)
def test_killing_beat_restarts_beat_and_leaves_the_stack_running(tmp_path):
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": the_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "PORT": str(_free_port()),
        "CELERY_CONCURRENCY": "1",
    }
    log = (tmp_path / "honcho.log").open("w")
    honcho = subprocess.Popen(
        [str(ROOT / ".venv/bin/honcho"), "start", "-f", str(ROOT / "Procfile")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        first = wait_until(
            lambda: celery_beat_pids(honcho.pid), timeout=60, what="honcho starts beat"
        )
        os.kill(first[0], signal.SIGKILL)

        again = wait_until(
            lambda: [pid for pid in celery_beat_pids(honcho.pid) if pid != first[0]],
            timeout=60,
            what="beat is started again",
        )
        assert again
        assert honcho.poll() is None, (tmp_path / "honcho.log").read_text()[-3000:]
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
        log.close()
