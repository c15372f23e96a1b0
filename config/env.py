"""Where Cairn's settings come from: the process environment first, then `.env`.

One reader for everyone: config/settings.py (so every `manage.py` command, the
ASGI server, Celery workers and beat) and `make run` (through
`manage.py runmode`, which also hands the resolved values to the Procfile's
processes) all call `load()`. A variable set in the process environment wins
over the same line in the file.

The file is `.env` in the project folder, or the one `CAIRN_ENV_FILE` names.
It is parsed by django-environ: `KEY=value`, optional `export `, single or
double quotes, `#` comments (quote a value that contains `#`).
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE_VARIABLE = "CAIRN_ENV_FILE"


def env_file() -> Path:
    """The settings file in use: CAIRN_ENV_FILE if set, else `.env` in the project folder."""
    named = os.environ.get(ENV_FILE_VARIABLE)
    return Path(named) if named else BASE_DIR / ".env"


class _FileOnly(environ.Env):
    # read_env() writes into cls.ENVIRON; this keeps the file's values apart
    # from os.environ so the caller decides who wins.
    ENVIRON: dict[str, str] = {}


def read_env_file(path: Path) -> dict[str, str]:
    """The variables a settings file sets (empty if there is no file)."""
    if not path.is_file():
        return {}
    _FileOnly.ENVIRON = {}
    _FileOnly.read_env(path, overwrite=True, parse_comments=True)
    # An inline comment leaves the spaces before it on the value.
    return {key: value.strip() for key, value in _FileOnly.ENVIRON.items()}


def load() -> dict[str, str]:
    """Apply the settings file under the process environment; return the file's variables."""
    values = read_env_file(env_file())
    for key, value in values.items():
        os.environ.setdefault(key, value)
    return values
