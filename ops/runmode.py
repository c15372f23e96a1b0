"""What `make run` starts, decided from the resolved settings (never from shell variables).

`describe()` is the whole decision; `manage.py runmode` prints it for people
and, with `--shell`, as `export` lines the Makefile evaluates, so `make run`,
the Procfile's processes and every `manage.py` command see the same values.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from config import env as env_sources
from config import keys

DEFAULT_HOST = env_sources.DEFAULT_HOST
DEFAULT_PORT = env_sources.DEFAULT_PORT
SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class RunMode:
    mode: str  # "production" (Procfile: web + worker + beat) or "embedded" (one process)
    host: str
    port: int
    url: str  # where a browser on this machine reaches the server
    settings_file: str
    database: str  # a description with no password
    redis: str
    warnings: list[str] = field(default_factory=list)
    # Variables the processes started by `make run` must see: the settings file's
    # (the environment's value when both set one), HOST, PORT, PUBLIC_BASE_URL.
    exports: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        if self.mode == "production":
            shape = "Production shape: uvicorn web processes + Celery worker + beat (Procfile)"
        else:
            shape = "Embedded: one Daphne process, runs execute in-process"
        return f"{shape}; database {self.database}; Redis {self.redis or 'none'}"


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def _database() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite {db['NAME']}"
    user = f"{db.get('USER')}@" if db.get("USER") else ""
    return f"PostgreSQL {user}{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"


def _key_warnings(mode: str) -> list[str]:
    """Embedded only (the production shape refuses to start instead: config/keys.py)."""
    if mode == "production":
        return []
    given = os.environ.get("SECRET_KEY", "")
    if given in keys.EXAMPLE_SECRET_KEYS:
        return [
            "SECRET_KEY is the example key published with Cairn: it is not used; Cairn "
            f"uses the key it made in {keys.keys_file()}. Remove SECRET_KEY from "
            f"{env_sources.env_file()}."
        ]
    problem = keys.secret_key_problem(given) if given else None
    if problem:
        return [f"SECRET_KEY {problem}. Make one with: {keys.MAKE_SECRET_KEY}"]
    return []


def describe(host: str | None = None, port: int | None = None) -> RunMode:
    """The mode, address and environment `make run` uses. `host`/`port` win when given."""
    file_values = env_sources.read_env_file(env_sources.env_file())
    host = host or os.environ.get("HOST") or DEFAULT_HOST
    port = int(port or os.environ.get("PORT") or DEFAULT_PORT)
    url = env_sources.browser_url(host, port)
    mode = "production" if settings.CAIRN_EXECUTION == "celery" else "embedded"
    warnings = []
    if mode == "production" and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        warnings.append(
            "REDIS_URL is set but DATABASE_URL is not: Celery workers will share a SQLite "
            "file. Set DATABASE_URL to a PostgreSQL database for the production shape."
        )
    warnings += _key_warnings(mode)
    exports = {}
    for key, value in file_values.items():
        if SHELL_NAME.fullmatch(key):
            exports[key] = os.environ.get(key, value)
        else:
            warnings.append(f"{key} in {env_sources.env_file()} is not a variable name; ignored")
    exports.update(HOST=host, PORT=str(port))
    if "PUBLIC_BASE_URL" not in os.environ:
        # Links in emails (unsubscribe, tracking) point at the real address.
        exports["PUBLIC_BASE_URL"] = url
    return RunMode(
        mode=mode,
        host=host,
        port=port,
        url=url,
        settings_file=str(env_sources.env_file()),
        database=_database(),
        redis=_without_password(settings.REDIS_URL),
        warnings=warnings,
        exports=exports,
    )


def as_shell(run_mode: RunMode) -> str:
    """`export` lines for `eval` in a POSIX shell; values are quoted."""
    values = {
        **run_mode.exports,
        "CAIRN_MODE": run_mode.mode,
        "CAIRN_URL": run_mode.url,
        "CAIRN_SUMMARY": run_mode.summary,
    }
    return "\n".join(f"export {key}={shlex.quote(value)}" for key, value in values.items())
