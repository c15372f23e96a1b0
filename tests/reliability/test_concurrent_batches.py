"""Parallel event batches over the same contacts: no deadlock reaches the client.

Invariant: two batches naming the same new contacts in opposite orders are
both accepted (locks and inserts happen in one global order, and a deadlock
or serialization failure that still happens is retried inside the request),
and each contact exists once.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from automation.models import Contact, Event
from tests.builder.conftest import key_client
from tests.builder.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 6
BATCH = 1000


def batch(round_: int, order: list[int]) -> dict:
    return {
        "events": [
            {
                "id": f"{round_}-{n}",  # the same events: a client resending
                "type": "signup",
                "contact": {"email": f"r{round_}-person{n}@example.com", "properties": {"n": n}},
            }
            for n in order
        ]
    }


def test_batches_in_opposite_orders_are_both_accepted():
    # No workflow: the conflict is in storing contacts and events; enrolling
    # 6,000 runs would only leave the shared test worker a backlog.
    workspace = WorkspaceFactory(name="Acme", slug="acme")
    answers: list[tuple[int, str]] = []

    def post(body, barrier):
        client = key_client(workspace)
        barrier.wait()
        try:
            response = client.post("/api/v1/events", body, format="json")
            answers.append((response.status_code, str(response.content[:200])))
        except Exception as error:  # a 500 raised through the test client
            answers.append((500, repr(error)[:200]))
        finally:
            connection.close()

    for round_ in range(ROUNDS):
        forward = list(range(BATCH))
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=post, args=(batch(round_, forward), barrier)),
            threading.Thread(target=post, args=(batch(round_, forward[::-1]), barrier)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert [code for code, _ in answers] == [202] * (2 * ROUNDS), answers
    assert Contact.objects.count() == ROUNDS * BATCH
    assert Event.objects.count() == ROUNDS * BATCH
