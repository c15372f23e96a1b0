"""The embedded default keeps answering while one workspace's heavy templates render.

Invariant: on a real Daphne over a SQLite file (in-process execution), a
workspace whose workflows render the issue's nested `range(99999)` loops
and a template that burns its whole CPU budget does not stop the web
process: another workspace's event is accepted, its workflows listed, its
run completed; every heavy run fails on the budget with an error naming
what to simplify. Before the budget, the executor thread rendered for hours
inside a write transaction and the web process stopped answering.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT, _free_port, wait_until

# The nested loops, sized by the contact (validation refuses literal
# ranges this size at save time; data-driven ones only the budget can stop).
NESTED = "{% for a in range(contact.n) %}{% for b in range(contact.n) %}{% endfor %}{% endfor %}"
BURNER = "{% for a in range(9000) %}{{ (range(9999)|sum) and '' }}{% endfor %}"

SETUP = """
from builder import services
from builder.models import ApiKey, Role, Workspace

def flow(event, node_id, node_type, config):
    return {
        "nodes": [
            {"id": "start", "type": "trigger.event", "position": {"x": 0, "y": 0},
             "data": {"config": {"event": event}}},
            {"id": node_id, "type": node_type, "position": {"x": 0, "y": 100},
             "data": {"config": config}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": node_id}],
        "settings": {"reenrollment": "always"},
    }

noisy = Workspace.objects.create(name="Noisy", slug="noisy")
quiet = Workspace.objects.create(name="Quiet", slug="quiet")
for name, template in (("nested", NESTED), ("burner", BURNER)):
    workflow = services.create_workflow(
        noisy, name=name,
        graph=flow("noisy", "heavy", "action.update_contact", {"properties": {"note": template}}),
    )
    services.publish(workflow)
workflow = services.create_workflow(
    quiet, name="welcome", graph=flow("signup", "tag", "action.tag", {"add": ["welcomed"]})
)
services.publish(workflow)
for ws in (noisy, quiet):
    print(f"KEY {ws.slug} " + ApiKey.objects.create_key(ws, name="k", role=Role.ADMIN)[1])
""".replace("NESTED", repr(NESTED)).replace("BURNER", repr(BURNER))


@pytest.fixture
def embedded_server(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CAIRN_EXECUTION")
    }
    database = tmp_path / "cairn.sqlite3"
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        CAIRN_EXECUTION="embedded",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(ROOT),
    )
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True, timeout=120,
    )  # fmt: skip
    setup = subprocess.run(
        [python, "manage.py", "shell", "-c", SETUP],
        cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True,
    )  # fmt: skip
    keys = {
        line.split()[1]: line.split()[2]
        for line in setup.stdout.splitlines()
        if line.startswith("KEY ")
    }
    port = _free_port()
    log_path = tmp_path / "daphne.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
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
    assert server.poll() is None, log_path.read_text()[-3000:]
    yield url, keys, database
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


def call(url: str, key: str, path: str, body: dict | None = None) -> int:
    request = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0  # no answer within the minute


def runs(database, slug: str) -> list[tuple[str, str]]:
    with sqlite3.connect(database, timeout=30) as db:
        return db.execute(
            "SELECT r.status, r.error FROM automation_run r JOIN builder_workspace w "
            "ON w.id = r.workspace_id WHERE w.slug = ?",
            (slug,),
        ).fetchall()


def test_the_web_process_answers_while_a_workspace_s_templates_render(embedded_server):
    url, keys, database = embedded_server
    for n in range(6):
        contact = {"email": f"n{n}@noisy.test", "properties": {"n": 99999}}
        body = {"id": f"noisy-{n}", "type": "noisy", "contact": contact}
        assert call(url, keys["noisy"], "/api/v1/events", body) == 202

    quiet = {"id": "quiet-1", "type": "signup", "contact": {"email": "ada@quiet.test"}}
    assert call(url, keys["quiet"], "/api/v1/events", quiet) == 202
    assert call(url, keys["quiet"], "/api/v1/workflows/") == 200
    wait_until(
        lambda: runs(database, "quiet") == [("completed", "")],
        timeout=60,
        what="the other workspace's run completes",
    )
    wait_until(
        lambda: len(runs(database, "noisy")) == 12
        and all(status == "failed" for status, _ in runs(database, "noisy")),
        timeout=60,
        what="every heavy run fails on the budget",
    )
    assert {error for _, error in runs(database, "noisy")} == {
        "heavy: This template repeats too many times (over 10,000): "
        "simplify the loop in Properties (note)",
        "heavy: This template takes too long to fill in (over 0.5 seconds): "
        "simplify the template in Properties (note)",
    }
