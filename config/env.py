"""Where Cairn's settings come from: the process environment first, then `.env`.

One reader for everyone: config/settings.py (so every `manage.py` command, the
ASGI server, Celery workers and beat) and `make run` (through
`manage.py runmode`, which also hands the resolved values to the Procfile's
processes) all call `load()`. A variable set in the process environment wins
over the same line in the file.

The file is `.env` in the project folder, or the one `CAIRN_ENV_FILE` names.
It is parsed by python-dotenv: `KEY=value`, optional `export `, single or
double quotes, `#` comments (a value with ` #` in it must be quoted); values
are taken literally (no `${VAR}` expansion). Settings are then read from the
environment by django-environ's typed accessors (config/settings.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE_VARIABLE = "CAIRN_ENV_FILE"


def env_file() -> Path:
    """The settings file in use: CAIRN_ENV_FILE if set, else `.env` in the project folder."""
    named = os.environ.get(ENV_FILE_VARIABLE)
    return Path(named) if named else BASE_DIR / ".env"


def read_env_file(path: Path) -> dict[str, str]:
    """The variables a settings file sets (empty if there is no file). Values are literal."""
    if not path.is_file():
        return {}
    values = dotenv_values(path, interpolate=False, encoding="utf-8")
    return {key: value for key, value in values.items() if value is not None}


def load() -> dict[str, str]:
    """Apply the settings file under the process environment; return the file's variables."""
    values = read_env_file(env_file())
    for key, value in values.items():
        os.environ.setdefault(key, value)
    return values


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Bind addresses a browser cannot open: links and hints use loopback instead.
WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]", ""}


def browser_url(host: str, port: int | str) -> str:
    """Where a browser on this machine reaches a server bound to host:port."""
    shown = DEFAULT_HOST if host in WILDCARD_HOSTS else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"
