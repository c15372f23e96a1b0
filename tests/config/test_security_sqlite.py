"""The same throttles and the dependency count on the embedded SQLite default.

Invariant: login throttling (axes' tables), the API key throttle (the
process's memory when there is no Redis) and the dependency failure count
(an upsert into ops' table) behave on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import json

from tests.products.embedded import shell, sqlite_env

SCRIPT = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment
from rest_framework.test import APIClient

from builder.models import ApiKey, Role, Workspace
from config import dependency_log
from ops.models import DependencyFailures

setup_test_environment()
users = get_user_model()
users.objects.create_user("ada", password="the-right-password-42")
users.objects.create_user("bob", password="the-right-password-42")

attacker = Client(REMOTE_ADDR="203.0.113.5")
wrong = [
    attacker.post("/login/", {"username": "ada", "password": f"guess-{n}"}).status_code
    for n in range(12)
]
right = attacker.post("/login/", {"username": "ada", "password": "the-right-password-42"})
bob = Client(REMOTE_ADDR="198.51.100.7").post(
    "/login/", {"username": "bob", "password": "the-right-password-42"}
)

workspace = Workspace.objects.create(name="Acme", slug="acme")
_key, good = ApiKey.objects.create_key(workspace, name="k", role=Role.ADMIN)
def call(address, key):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client.get("/api/v1/workflows/")
keys = [call("203.0.113.5", f"cairn_guess{n}").status_code for n in range(21)]
elsewhere = call("198.51.100.7", good).status_code

for _ in range(3):
    dependency_log.failed("redis", "probing", ConnectionError("refused"))
dependency_log.flush()
dependency_log.failed("redis", "probing", ConnectionError("refused"))
dependency_log.flush()

print(json.dumps({
    "wrong": wrong,
    "right": right.status_code,
    "retry_after": right.get("Retry-After"),
    "bob": bob.status_code,
    "keys": keys,
    "elsewhere": elsewhere,
    "counted": DependencyFailures.objects.get(dependency="redis").failures,
}))
"""


def test_throttles_and_the_failure_count_on_sqlite(tmp_path):
    env = sqlite_env(
        tmp_path, LOGIN_FAILURE_LIMIT="10", LOGIN_COOLOFF_MINUTES="15", API_KEY_FAILURE_LIMIT="20"
    )

    found = json.loads(shell(env, SCRIPT).splitlines()[-1])

    assert found["wrong"][:9] == [200] * 9
    assert found["wrong"][10:] == [429, 429]
    assert found["right"] == 429
    assert found["retry_after"] == "900"
    assert found["bob"] == 302
    assert found["keys"] == [401] * 20 + [429]
    assert found["elsewhere"] == 200
    assert found["counted"] == 4
