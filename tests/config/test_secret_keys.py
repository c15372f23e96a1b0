"""Keys in the production shape and the embedded default (config/keys.py).

Invariants:
- the production shape (DATABASE_URL and REDIS_URL) never starts with a
  missing, weak or published SECRET_KEY, nor without CONNECTION_ENCRYPTION_KEYS:
  with the key of .env.example anyone could forge email click and unsubscribe
  links and decrypt every stored connection secret;
- the embedded default makes its keys once, into a git-ignored file, and every
  later command reads the same ones;
- with the HTTPS settings docs/operations.md documents, `check --deploy` is clean.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core import signing
from django.core.management import call_command
from django.test import Client

from config import keys
from integrations import crypto
from integrations.email import tracking
from integrations.models import Connection
from tests.automation.workflows import workspace
from tests.conftest import ROOT

EXAMPLE_KEY = "dev-only-insecure-secret-key-change-me"
STRONG_KEY = "k" + "0123456789abcdefghijklmnopqrstuvwxyz-_ABCDEFGHIJKLMNOP"
CONNECTION_KEY = Fernet.generate_key().decode()
MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**values: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "CAIRN_ENV_FILE": "/dev/null",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cairn_unused",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "CAIRN_EXECUTION": "celery",
        "SECRET_KEY": STRONG_KEY,
        "CONNECTION_ENCRYPTION_KEYS": CONNECTION_KEY,
    }
    for key, value in values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def embedded_env(tmp_path, **values: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CAIRN_EXECUTION",
            "EVENT_INTAKE",
            "SECRET_KEY",
            "CONNECTION_ENCRYPTION_KEYS",
        )
    }
    return {
        **env,
        "CAIRN_ENV_FILE": "/dev/null",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cairn.sqlite3'}",
        "CAIRN_KEYS_FILE": str(tmp_path / "keys"),
        **values,
    }


# ---------------------------------------------------------------- production refuses


@pytest.mark.parametrize(
    ("secret_key", "why"),
    [
        (None, "SECRET_KEY is not set"),
        ("", "SECRET_KEY is not set"),
        (EXAMPLE_KEY, "SECRET_KEY is the example key published with Cairn"),
        ("tests-only-secret-key", "SECRET_KEY is too weak"),
        ("a" * 60, "SECRET_KEY is too weak"),
    ],
    ids=["missing", "empty", "example", "short", "few-characters"],
)
def test_the_production_shape_refuses_to_start_with_a_bad_secret_key(secret_key, why):
    # `manage.py runmode` is what `make run` runs first; the web, worker and
    # beat processes import the same settings.
    done = run_manage(production_env(SECRET_KEY=secret_key), "runmode")

    assert done.returncode != 0
    assert "Cairn will not start in the production shape" in done.stderr
    assert why in done.stderr
    assert f"Make one with: {MAKE_ONE}" in done.stderr
    assert "CONNECTION_ENCRYPTION_KEYS" not in done.stderr  # that one is fine


def test_the_production_shape_refuses_to_start_without_a_connection_key():
    missing = run_manage(production_env(CONNECTION_ENCRYPTION_KEYS=None), "runmode")
    derived_from_the_secret = run_manage(
        production_env(CONNECTION_ENCRYPTION_KEYS="not-a-fernet-key"), "runmode"
    )

    assert missing.returncode != 0
    assert "CONNECTION_ENCRYPTION_KEYS is not set" in missing.stderr
    assert "Fernet.generate_key()" in missing.stderr
    assert derived_from_the_secret.returncode != 0
    assert "CONNECTION_ENCRYPTION_KEYS (key 1) is not a key" in derived_from_the_secret.stderr


def test_the_production_shape_starts_with_strong_keys():
    done = run_manage(production_env(), "runmode")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mode: production")


# ---------------------------------------------------------------- embedded makes them once


def test_the_embedded_default_makes_its_keys_once_and_every_command_reads_them(tmp_path):
    env = embedded_env(tmp_path)
    show = (
        "from django.conf import settings; "
        "print(settings.SECRET_KEY); print(settings.CONNECTION_ENCRYPTION_KEYS)"
    )

    # What `make run` runs first, then any manage.py command, twice.
    runmode = run_manage(env, "runmode")
    first = run_manage(env, "shell", "-c", show)
    second = run_manage(env, "shell", "-c", show)

    assert runmode.returncode == 0, runmode.stderr
    assert "mode: embedded" in runmode.stdout
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    secret_key, connection_keys = first.stdout.splitlines()[-2:]
    assert keys.secret_key_problem(secret_key) is None
    assert secret_key != EXAMPLE_KEY
    stored = (tmp_path / "keys").read_text()
    assert f"SECRET_KEY={secret_key}\n" in stored
    (connection_key,) = ast.literal_eval(connection_keys)
    assert keys.is_fernet_key(connection_key)
    assert f"CONNECTION_ENCRYPTION_KEYS={connection_key}\n" in stored
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o600

    # Another installation makes keys of its own.
    (tmp_path / "other").mkdir()
    other = run_manage(embedded_env(tmp_path / "other"), "shell", "-c", show)
    assert other.returncode == 0, other.stderr
    assert other.stdout.splitlines()[-2] != secret_key


def test_the_default_keys_file_is_ignored_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", ".cairn-keys"], cwd=ROOT, check=False
    )

    assert ignored.returncode == 0
    assert keys.keys_file() == ROOT / ".cairn-keys" or "CAIRN_KEYS_FILE" in os.environ


def test_the_embedded_default_replaces_the_example_key_and_says_so(tmp_path):
    env = embedded_env(tmp_path, SECRET_KEY=EXAMPLE_KEY)

    runmode = run_manage(env, "runmode")
    show = "from django.conf import settings; print(settings.SECRET_KEY)"
    shown = run_manage(env, "shell", "-c", show)

    assert runmode.returncode == 0, runmode.stderr
    assert "SECRET_KEY is the example key published with Cairn: it is not used" in runmode.stderr
    assert shown.stdout.splitlines()[-1] != EXAMPLE_KEY
    assert f"SECRET_KEY={shown.stdout.splitlines()[-1]}\n" in (tmp_path / "keys").read_text()


# ---------------------------------------------------------------- connection keys


@pytest.mark.django_db
def test_connections_stored_under_the_old_derived_key_stay_readable_and_rotate_away(settings):
    # Earlier releases encrypted with a key derived from SECRET_KEY when
    # CONNECTION_ENCRYPTION_KEYS was empty.
    derived = keys.derived_connection_key(settings.SECRET_KEY)
    settings.CONNECTION_ENCRYPTION_KEYS = [CONNECTION_KEY]
    settings.CONNECTION_DECRYPTION_FALLBACK_KEYS = [derived]
    old = Fernet(derived.encode()).encrypt(b'{"token": "old-secret"}').decode()
    connection = Connection.objects.create(
        workspace=workspace(), name="CRM", provider="webhook", encrypted_secrets=old
    )

    assert crypto.decrypt(connection.encrypted_secrets) == {"token": "old-secret"}
    # New secrets are never encrypted with the derived key.
    with pytest.raises(InvalidToken):
        Fernet(derived.encode()).decrypt(crypto.encrypt({"token": "new"}).encode())

    call_command("rotate_connection_keys", stdout=open(os.devnull, "w"))  # noqa: SIM115
    connection.refresh_from_db()
    settings.CONNECTION_DECRYPTION_FALLBACK_KEYS = []

    assert crypto.decrypt(connection.encrypted_secrets) == {"token": "old-secret"}
    assert Fernet(CONNECTION_KEY.encode()).decrypt(connection.encrypted_secrets.encode())


# ---------------------------------------------------------------- email links


@pytest.mark.django_db
def test_email_links_signed_with_the_example_key_are_refused():
    # Click and unsubscribe tokens are Django signing with SECRET_KEY: one
    # made with the published key is no link.
    ref = {"w": workspace().pk, "c": 1, "m": "m1"}
    forged_click = signing.dumps(
        {**ref, "u": "https://evil.example/"}, key=EXAMPLE_KEY, salt=tracking.SALT, compress=True
    )
    forged_unsubscribe = signing.dumps(ref, key=EXAMPLE_KEY, salt=tracking.SALT, compress=True)
    genuine_click = tracking.make_token(**ref, u="https://shop.example/")

    client = Client()
    assert client.get(f"/hooks/email/click/{forged_click}").status_code == 404
    assert client.post(f"/hooks/email/unsubscribe/{forged_unsubscribe}").status_code == 404
    assert client.get(f"/hooks/email/click/{genuine_click}").status_code == 302


# ---------------------------------------------------------------- HTTPS


def documented_https_settings() -> dict[str, str]:
    """The settings block of docs/operations.md's "HTTPS" section, as it is written."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text[text.index("### HTTPS") :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    values = {}
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def test_check_deploy_is_clean_with_the_documented_https_settings():
    documented = documented_https_settings()
    assert {"SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS"} <= set(documented)

    without = run_manage(production_env(DEBUG="false"), "check", "--deploy")
    done = run_manage(
        production_env(DEBUG="false", **documented), "check", "--deploy", "--fail-level", "WARNING"
    )

    # Without them Django warns (the test would notice a setting that no longer applies).
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in without.stderr + without.stdout
    assert done.returncode == 0, done.stderr + done.stdout
    assert "System check identified no issues" in done.stdout
    assert "WARNING" not in done.stderr
