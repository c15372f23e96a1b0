"""The embedded default under concurrent load: a real Daphne on a SQLite file.

Invariant: with nothing configured (SQLite, in-process execution), 50
concurrent single events are all accepted (no "database is locked" 500),
every enrolled run finishes, and each contact gets exactly one email.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT, _free_port, wait_until

SETUP = """
from automation.models import Run
from builder import services
from builder.models import Role, Workspace
from tests.builder.factories import make_api_key

ws = Workspace.objects.create(name="Embedded", slug="embedded")
_key, raw = make_api_key(ws, Role.ADMIN)
graph = {
    "nodes": [
        {"id": "start", "type": "trigger.event", "position": {"x": 0, "y": 0},
         "data": {"config": {"event": "signup"}}},
        {"id": "mail", "type": "action.email", "position": {"x": 0, "y": 100},
         "data": {"config": {"subject": "Welcome", "body": "Hello {{ contact.email }}"}}},
        {"id": "tag", "type": "action.tag", "position": {"x": 0, "y": 200},
         "data": {"config": {"add": ["welcomed"]}}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "mail"},
              {"id": "e2", "source": "mail", "target": "tag"}],
    "settings": {"reenrollment": "never"},
}
workflow = services.create_workflow(ws, name="Welcome", graph=graph)
services.publish(workflow)
print("KEY=" + raw)
"""


@pytest.fixture
def embedded_server(tmp_path, smtp_server):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CAIRN_EXECUTION")
    }
    database = tmp_path / "cairn.sqlite3"
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        CAIRN_EXECUTION="embedded",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(ROOT),
    )
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    setup = subprocess.run(
        [python, "manage.py", "shell", "-c", SETUP],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    key = next(line[4:] for line in setup.stdout.splitlines() if line.startswith("KEY="))
    port = _free_port()
    log = open(tmp_path / "daphne.log", "w")  # noqa: SIM115 (kept open for the server's lifetime)
    server = subprocess.Popen(
        [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            urllib.request.urlopen(f"{url}/api/schema/", timeout=2)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return server.poll() is not None
        return True

    wait_until(up, timeout=60, what="daphne answers")
    assert server.poll() is None, (tmp_path / "daphne.log").read_text()[-3000:]
    yield url, key, database
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


def post_event(url: str, key: str, n: int) -> tuple[int, str]:
    body = json.dumps(
        {"id": f"evt-{n}", "type": "signup", "contact": {"email": f"user{n}@example.com"}}
    ).encode()
    request = urllib.request.Request(
        f"{url}/api/v1/events",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")[:300]


def test_fifty_concurrent_events_on_the_embedded_default(embedded_server, outbox):
    url, key, database = embedded_server

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda n: post_event(url, key, n), range(50)))

    failures = [answer for answer in answers if answer[0] != 202]
    assert not failures, failures[:3]

    def statuses():
        with sqlite3.connect(database, timeout=30) as db:
            return dict(db.execute("SELECT status, count(*) FROM automation_run GROUP BY status"))

    wait_until(
        lambda: statuses().get("completed") == 50,
        timeout=90,
        interval=0.5,
        what=f"all 50 runs complete (now {statuses()})",
    )
    time.sleep(1)  # anything sent twice would have left by now
    recipients = [address for message in outbox.messages for address in message["to"]]
    assert sorted(recipients) == sorted(f"user{n}@example.com" for n in range(50))
    with sqlite3.connect(database, timeout=30) as db:
        steps = db.execute("SELECT count(*) FROM automation_step WHERE status != 'completed'")
        assert steps.fetchone()[0] == 0
