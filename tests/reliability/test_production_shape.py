"""The production shape under concurrent single events: honcho on the Procfile
(several uvicorn web processes, a Celery worker, beat), queued intake.

Invariants: 64 concurrent single events all get a 202 (never "too many
clients"), the whole shape never holds more database connections than its
bound — DATABASE_POOL_MAX_SIZE per web process, plus two per Celery process
and two more — and every event becomes a completed run; a
WebSocket watcher connected to one web process sees steps the worker wrote.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import websockets
from django.test import Client

from automation.models import Run, RunStatus
from builder.models import Role
from tests.builder.factories import (
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
    make_api_key,
    published_workflow,
    signup_graph,
)
from tests.conftest import ROOT, _free_port, the_test_database_url, wait_until

WEB_PROCESSES = 2
WORKER_PROCESSES = 2
POOL_MAX = 3
# A pool per web process; one persistent connection per Celery process (two
# during an outside call: the lease heartbeat), beat's one, and one spare.
BOUND = WEB_PROCESSES * POOL_MAX + 2 * WORKER_PROCESSES + 2
APPLICATION = "cairn-shape-under-test"
CONCURRENT = 64


class Connections(threading.Thread):
    """Peak connections the shape holds (by application_name), sampled every 50 ms."""

    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.peak = 0
        self.stopped = threading.Event()

    def run(self):
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            while not self.stopped.is_set():
                (count,) = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    (APPLICATION,),
                ).fetchone()
                self.peak = max(self.peak, count)
                time.sleep(0.05)


@pytest.fixture
def shape(tmp_path):
    from django.conf import settings

    port = _free_port()
    database = the_test_database_url()
    env = {
        **os.environ,
        "DATABASE_URL": f"{database}?application_name={APPLICATION}",
        "REDIS_URL": settings.REDIS_URL,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(WEB_PROCESSES),
        "CELERY_CONCURRENCY": str(WORKER_PROCESSES),
        "DATABASE_POOL_MAX_SIZE": str(POOL_MAX),
        "EVENT_INTAKE": "queued",
        "LOG_LEVEL": "WARNING",
    }
    log_path = tmp_path / "honcho.log"
    log = log_path.open("w")
    honcho = subprocess.Popen(
        [str(ROOT / ".venv/bin/honcho"), "start", "-f", str(ROOT / "Procfile")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(f"{base}/login/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=60, what=f"the web tier answers:\n{log_path.read_text()[-2000:]}")
        yield base, database
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
        log.close()


@pytest.mark.django_db(transaction=True)
def test_64_concurrent_single_events_stay_within_the_connection_bound(shape):
    base, database = shape
    workspace = WorkspaceFactory()
    workflow = published_workflow(workspace, graph=signup_graph())
    _key, raw = make_api_key(workspace, Role.EDITOR)
    sampler = Connections(database)
    sampler.start()

    def send(n: int) -> int:
        body = {"id": f"c{n}", "type": "signup", "contact": {"email": f"c{n}@example.com"}}
        response = httpx.post(
            f"{base}/api/v1/events",
            json=body,
            headers={"Authorization": f"Bearer {raw}"},
            timeout=30,
        )
        return response.status_code

    try:
        with ThreadPoolExecutor(CONCURRENT) as pool:
            statuses = list(pool.map(send, range(CONCURRENT * 2)))
        assert statuses == [202] * (CONCURRENT * 2)
        wait_until(
            lambda: Run.objects.filter(workflow=workflow, status=RunStatus.COMPLETED).count()
            == CONCURRENT * 2,
            timeout=60,
            what="every event became a completed run",
        )
    finally:
        sampler.stopped.set()
        sampler.join(5)
    assert 0 < sampler.peak <= BOUND, f"peak {sampler.peak} connections, bound {BOUND}"


@pytest.mark.django_db(transaction=True)
def test_a_watcher_on_a_web_process_sees_the_workers_steps(shape):
    base, _database = shape
    workspace = WorkspaceFactory()
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role=Role.ADMIN)
    workflow = published_workflow(workspace, graph=signup_graph())
    _key, raw = make_api_key(workspace, Role.EDITOR)
    browser = Client()
    browser.force_login(user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    url = base.replace("http", "ws") + f"/ws/workflows/{workflow.pk}/"

    async def watch() -> list[dict]:
        async with websockets.connect(
            url, additional_headers={"Cookie": cookie, "Origin": base}
        ) as socket:
            messages = [json.loads(await asyncio.wait_for(socket.recv(), 10))]
            response = await asyncio.to_thread(
                httpx.post,
                f"{base}/api/v1/events",
                json={"id": "w1", "type": "signup", "contact": {"email": "w@example.com"}},
                headers={"Authorization": f"Bearer {raw}"},
            )
            assert response.status_code == 202
            while not any("tag" in json.dumps(m) for m in messages[1:]):
                messages.append(json.loads(await asyncio.wait_for(socket.recv(), 20)))
            return messages

    messages = asyncio.run(watch())

    assert len(messages) >= 2  # the snapshot, then what the worker did
