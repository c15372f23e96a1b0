"""The embedded default for product tests: a SQLite file, no Redis, in-process
execution (what `make run` starts with nothing configured).

`sqlite_env(tmp_path)` migrates a fresh SQLite database and returns the
environment that points manage.py commands and servers at it;
`shell(env, script)` runs Python in `manage.py shell` there and returns what
it printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# Settings of the test session that must not reach the embedded processes.
NOT_EMBEDDED = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CAIRN_EXECUTION", "EVENT_INTAKE")


def sqlite_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in NOT_EMBEDDED}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cairn.sqlite3'}",
        CAIRN_EXECUTION="embedded",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=180,
        capture_output=True,
    )
    return env


def shell(env: dict[str, str], script: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout
