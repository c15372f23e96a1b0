"""Beat as the Procfile starts it: whatever a previous run left behind, it starts.

Invariant: a beat killed while writing its schedule file cannot stop the
next start (which used to fail with "EOFError: Ran out of input" and take
the whole honcho stack down), and two instances on one host share no state.
"""

from __future__ import annotations

import dbm
import os
import re
import signal
import subprocess
import time

from tests.conftest import ROOT, wait_until


def procfile_beat() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("beat:"):
            return line.split(":", 1)[1].strip().replace(".venv/bin/", f"{ROOT}/.venv/bin/")
    raise AssertionError("the Procfile has no beat process")


def corrupt_schedule(path) -> None:
    """What a beat killed mid-write leaves: a schedule store whose entries are cut short."""
    with dbm.open(str(path), "c") as db:
        db[b"entries"] = b"\x80\x04\x95"  # a pickle cut off after three bytes
        db[b"tz"] = b""


def start_beat(workdir, log) -> subprocess.Popen:
    command = procfile_beat()
    for path in re.findall(r"--schedule[= ](\S+)", command):
        # A previous run's state, wherever this command keeps it.
        corrupt_schedule(path if path.startswith("/") else workdir / path)
    corrupt_schedule(workdir / "celerybeat-schedule")  # celery's default file name
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAIRN_EXECUTION": "celery"}
    env["TASK_LOG_LEVEL"] = "INFO"  # beat's "Sending due task" lines are what this test reads
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    return subprocess.Popen(
        ["/bin/sh", "-c", command],
        start_new_session=True,
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_two_beats_start_over_a_corrupt_schedule_and_keep_sending_the_sweep(tmp_path):
    beats, files = [], []
    for name in ("one", "two"):
        workdir = tmp_path / name
        workdir.mkdir()
        log = tmp_path / f"{name}.log"
        files.append(log.open("w"))
        beats.append((start_beat(workdir, files[-1]), log))
    try:
        for process, log in beats:
            wait_until(
                lambda log=log, process=process: (
                    process.poll() is not None
                    or log.read_text().count("Sending due task sweep-due-runs") >= 2
                ),
                timeout=30,
                what="beat sends the sweep",
            )
            assert process.poll() is None, log.read_text()[-3000:]
        time.sleep(1)
        for process, log in beats:
            assert process.poll() is None, log.read_text()[-3000:]
    finally:
        for process, _log in beats:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for file in files:
            file.close()
