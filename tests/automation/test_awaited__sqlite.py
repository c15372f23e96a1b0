"""Waits in loops and senders' clocks on the embedded default's SQLite database:
the same rule as on PostgreSQL (tests/automation/test_awaited.py)."""

from __future__ import annotations

import json

from tests.products.embedded import shell, sqlite_env

SCRIPT = """
import json
from datetime import timedelta
from django.utils import timezone
from automation.engine import advance_run
from automation.models import Run
from tests.automation.test_awaited import cart_flow, laps, page_view_loop
from tests.automation.workflows import path_of, send, workspace

loop = page_view_loop()
send("signup", "ada@example.com")
send("page_view", "ada@example.com", event_id="pv-1")
send("page_view", "ada@example.com", event_id="pv-2")
run = Run.objects.get(workflow=loop)
advance_run(run.pk)
run.refresh_from_db()
send("page_view", "ada@example.com", event_id="pv-3")
advance_run(run.pk)
run.refresh_from_db()
looped = {"laps": laps(run), "status": run.status}

cart = cart_flow()
cart_time = timezone.now() - timedelta(seconds=5)
send("cart_created", "buyer@example.com", occurred_at=cart_time)
run = Run.objects.get(workflow=cart)
advance_run(run.pk)
send("order_placed", "buyer@example.com", occurred_at=cart_time + timedelta(seconds=1))
advance_run(run.pk)
run.refresh_from_db()
print("RESULT=" + json.dumps({"loop": looped, "cart": path_of(run)}))
"""


def test_waits_take_each_event_once_in_the_order_received_on_sqlite(tmp_path):
    printed = shell(sqlite_env(tmp_path), SCRIPT)
    result = json.loads(next(line[7:] for line in printed.splitlines() if line[:7] == "RESULT="))
    assert result["loop"] == {"laps": 3, "status": "waiting"}
    assert result["cart"] == ["start", "wait", "bought"]
