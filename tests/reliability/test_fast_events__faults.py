"""Single events on the fast path under faults, on a real uvicorn server.

Invariant: an event answered 202 is stored, exactly once, whatever happens to
the web process or its database connections afterwards; a request whose
event could not be stored is answered so (never a 202).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest
from django.db import connection

from automation.models import PendingEvent
from builder.models import Role
from tests.builder.factories import WorkspaceFactory, make_api_key
from tests.config.servers import uvicorn_server
from tests.conftest import the_test_database_url

pytestmark = pytest.mark.django_db(transaction=True)

APP_NAME = "cairn-fast-faults"
CLIENTS = 32


class Clients:
    """CLIENTS threads, each sending single events one after the other until stopped."""

    def __init__(self, url: str, key: str) -> None:
        self.url = f"{url}/api/v1/events"
        self.key = key
        self.answered: dict[str, int] = {}
        self.failures: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in range(CLIENTS)]

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _send(self, client: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(timeout=30) as http:
            for n in range(1_000_000):
                if self.stop.is_set():
                    return
                event_id = f"c{client}-{n}"
                body = {"id": event_id, "type": "signup", "contact": {"email": f"{event_id}@x.io"}}
                try:
                    status = http.post(self.url, headers=headers, json=body).status_code
                except httpx.HTTPError as error:
                    with self._lock:
                        self.failures.append(f"{event_id}: {type(error).__name__}")
                    if self.stop.is_set():
                        return
                    time.sleep(0.05)
                    continue
                with self._lock:
                    self.answered[event_id] = status

    def count(self) -> int:
        with self._lock:
            return len(self.answered)


def _cut_the_servers_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [APP_NAME],
        )
        return cursor.fetchone()[0]


def test_every_event_answered_202_is_stored_once_through_cuts_and_a_kill(tmp_path, drain_held):
    workspace = WorkspaceFactory()
    _, key = make_api_key(workspace, Role.EDITOR)
    database_url = f"{the_test_database_url()}?application_name={APP_NAME}"
    with (
        uvicorn_server(tmp_path, EVENT_INTAKE="queued", DATABASE_URL=database_url) as server,
        Clients(server.url, key) as clients,
    ):
        cuts = 0
        for _ in range(3):
            start = clients.count()
            while clients.count() < start + 300:
                time.sleep(0.01)
            cuts += _cut_the_servers_connections()
        answered_before_the_kill = clients.count()
        while clients.count() < answered_before_the_kill + 300:
            time.sleep(0.01)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        clients.stop.set()

    answered = dict(clients.answered)
    accepted = {event_id for event_id, status in answered.items() if status == 202}
    stored = list(
        PendingEvent.objects.filter(workspace=workspace).values_list("client_id", flat=True)
    )
    assert cuts >= 1, "no connection of the server was cut"
    # Through three cuts of every database connection of the server, every
    # request was answered: a batch the writer lost goes to Django, which
    # stores it on a fresh connection; at worst a request caught by the cut
    # itself is told to retry (503), never told it was stored.
    assert {status for status in answered.values()} <= {202, 503}
    assert len(accepted) > 1200
    # The kill: what was answered is stored, once; what was not may be.
    assert accepted <= set(stored)
    assert len(stored) == len(set(stored))
