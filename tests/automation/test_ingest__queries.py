"""Event ingest is set-based: its queries do not grow with the batch.

Invariant: a batch touching N contacts, each with a property change that
a property trigger watches, costs a bounded number of queries, not a few
per contact (they all run inside the one transaction that holds every
contact's lock).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automation.ingest import ContactRef, IncomingEvent, ingest_events
from automation.models import Run
from tests.automation.workflows import graph, node, published, workspace

pytestmark = pytest.mark.django_db


def batch(size: int, offset: int) -> list[IncomingEvent]:
    return [
        IncomingEvent(
            type="page_view",
            contact=ContactRef(email=f"p{offset + n}@example.com", properties={"score": 80}),
            data={},
            occurred_at=timezone.now(),
            client_id=f"e{offset + n}",
        )
        for n in range(size)
    ]


def queries_for(size: int, offset: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        ingest_events(workspace().pk, batch(size, offset))
    return len(captured)


def test_a_batch_costs_the_same_queries_for_10_or_200_changed_contacts():
    published(
        graph(
            [node("hot", "trigger.property", property="score", mode="crosses_above", value=50),
             node("tag", "action.tag", add=["hot"])],
            [{"id": "e", "source": "hot", "target": "tag"}],
            reenrollment="always",
        )
    )  # fmt: skip
    small = queries_for(10, 0)
    large = queries_for(200, 1000)

    assert Run.objects.count() == 210  # every contact crossed the threshold once
    assert large <= small + 2, (small, large)
