"""SECRET_KEY and the connection encryption keys: required in production, made once when embedded.

Why: SECRET_KEY signs email click and unsubscribe links (Django signing),
webhook-trigger URLs and sessions; with the example key anyone can forge a
click (an open redirect and a fake click event) or unsubscribe any contact.
Connection secrets are encrypted with CONNECTION_ENCRYPTION_KEYS, keys of
their own (integrations/crypto.py), not a derivation of SECRET_KEY.

- The production shape (Celery: DATABASE_URL and REDIS_URL) refuses to
  start without a strong SECRET_KEY and without CONNECTION_ENCRYPTION_KEYS:
  its processes run on several machines, which must share the same keys, so
  the operator sets them (`production_problems`).
- The embedded default (`make run` with nothing set) makes random keys the
  first time and keeps them in a local, git-ignored file, `.cairn-keys` in
  the project folder (or CAIRN_KEYS_FILE): every later `make run` and
  `manage.py` command reads the same ones (`local_keys`). A key set in the
  environment or `.env` wins over the file.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from dotenv import dotenv_values

BASE_DIR = Path(__file__).resolve().parent.parent
KEYS_FILE_VARIABLE = "CAIRN_KEYS_FILE"

# Keys published with Cairn: the default of earlier releases and the value
# .env.example carried. Never accepted in production.
EXAMPLE_SECRET_KEYS = frozenset({"dev-only-insecure-secret-key-change-me"})
# Django's own rule (security.W009): at least 50 characters, 5 different ones.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE = 5

MAKE_SECRET_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'
MAKE_FERNET_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


def keys_file() -> Path:
    """The embedded default's generated keys: CAIRN_KEYS_FILE, else `.cairn-keys`."""
    named = os.environ.get(KEYS_FILE_VARIABLE)
    return Path(named) if named else BASE_DIR / ".cairn-keys"


def secret_key_problem(key: str) -> str | None:
    """Why `key` must not sign anything in production, or None."""
    if not key:
        return "is not set"
    if key in EXAMPLE_SECRET_KEYS:
        return "is the example key published with Cairn: anyone can forge links signed with it"
    if (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE
        or key.startswith("django-insecure-")
    ):
        return (
            f"is too weak: use at least {SECRET_KEY_MIN_LENGTH} random characters "
            f"({len(key)} given)"
        )
    return None


def production_problems(
    secret_key: str, fallbacks: list[str], connection_keys: list[str]
) -> list[str]:
    """What stops the production shape from starting, each with how to mend it."""
    problems = []
    problem = secret_key_problem(secret_key)
    if problem:
        problems.append(f"SECRET_KEY {problem}. Make one with: {MAKE_SECRET_KEY}")
    for number, fallback in enumerate(fallbacks, 1):
        problem = secret_key_problem(fallback)
        if problem:
            problems.append(
                f"SECRET_KEY_FALLBACKS (key {number}) {problem}. Remove it, or make a new "
                f"one with: {MAKE_SECRET_KEY}"
            )
    if not connection_keys:
        problems.append(
            "CONNECTION_ENCRYPTION_KEYS is not set: it encrypts stored connection secrets. "
            f"Make one with: {MAKE_FERNET_KEY}"
        )
    for number, key in enumerate(connection_keys, 1):
        if not is_fernet_key(key):
            problems.append(
                f"CONNECTION_ENCRYPTION_KEYS (key {number}) is not a key: each must be 32 "
                f"url-safe base64-encoded bytes. Make one with: {MAKE_FERNET_KEY}"
            )
    return problems


def refusal(problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return (
        "Cairn will not start in the production shape (DATABASE_URL and REDIS_URL set) "
        f"with these keys:\n{lines}\n"
        "Set them in the environment or in .env; every web process, worker and beat "
        "needs the same values (docs/operations.md, 'Keys')."
    )


def is_fernet_key(key: str) -> bool:
    try:
        Fernet(key.encode())
    except ValueError:
        return False
    return True


def derived_connection_key(secret_key: str) -> str:
    """The key earlier releases derived from SECRET_KEY when CONNECTION_ENCRYPTION_KEYS
    was empty: still tried for reading, so their stored connections stay readable
    until `manage.py rotate_connection_keys` re-encrypts them."""
    digest = hashlib.sha256(b"cairn-connections:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def local_keys(path: Path) -> dict[str, str]:
    """SECRET_KEY and CONNECTION_ENCRYPTION_KEYS from the local keys file, made the
    first time (and any that is missing), under a file lock so two commands
    started together never make two different keys."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        values = {k: v for k, v in dotenv_values(stream=file).items() if v}
        made = {}
        if "SECRET_KEY" not in values:
            made["SECRET_KEY"] = secrets.token_urlsafe(50)
        if "CONNECTION_ENCRYPTION_KEYS" not in values:
            made["CONNECTION_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
        if made:
            file.seek(0, os.SEEK_END)
            if file.tell() == 0:
                file.write(
                    "# Made by Cairn for the embedded default (make run): keep this file\n"
                    "# private and with the database; it is not in git. Settings in the\n"
                    "# environment or .env win over these.\n"
                )
            file.writelines(f"{key}={value}\n" for key, value in made.items())
            file.flush()
            os.fsync(file.fileno())
        return {**values, **made}
