"""Product automation on the embedded default: a real Daphne on a SQLite file
with no Redis, runs executed by the in-process executor (`make run` with
nothing configured).

Invariant: with no Celery beat, the executor thread still does what beat
does for products: usage sent over HTTP is computed into metrics, a
feature entering a band runs that band's workflow (with its tagged target
audience, on SQLite), an escalation nobody acknowledges rises a level, and a
product schedule fires.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request

import pytest

from tests.config.servers import daphne
from tests.conftest import wait_until
from tests.products.embedded import shell, sqlite_env

SETUP = """
from builder.models import Role, Workspace
from products import services
from tests.builder.factories import make_api_key, published_workflow
from tests.products.factories import graph

ws = Workspace.objects.create(name="Embedded", slug="embedded")
_key, raw = make_api_key(ws, Role.ADMIN)
product = services.create_product(
    ws, name="Atlas", manager_email="pm@example.com", executive_email="ceo@example.com",
    features=[{"key": "reports", "name": "Reports", "target_tag": "beta"}],
)
adoption = published_workflow(ws, graph(
    {"id": "entered", "type": "trigger.feature_adoption",
     "config": {"band": "high", "feature": "reports"}},
    {"id": "tell", "type": "action.notify",
     "config": {"message": "{{ event.data.feature.key }} is {{ event.data.band }}"}},
), name="Reports adopted")
published_workflow(ws, graph(
    {"id": "critical", "type": "trigger.product_health", "config": {"band": "critical"}},
    {"id": "escalate", "type": "action.escalate", "config": {
        "level": 2, "acknowledge_within": {"amount": 1, "unit": "seconds"},
        "title": "{{ event.data.product.name }} is critical"}},
), name="Escalate")
weekly = published_workflow(ws, graph(
    {"id": "every", "type": "trigger.product_schedule",
     "config": {"interval": {"amount": 1, "unit": "seconds"}}},
    {"id": "summary", "type": "action.notify",
     "config": {"message": "Summary of {{ event.data.product.name }}"}},
), name="Summary")
print("SETUP=" + json.dumps({"key": raw, "product": product.pk,
                             "adoption": adoption.pk.hex, "weekly": weekly.pk.hex}))
"""


@pytest.fixture
def embedded(tmp_path, smtp_server):
    env = sqlite_env(tmp_path, EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}")
    printed = shell(env, "import json\n" + SETUP)
    setup = json.loads(next(line[6:] for line in printed.splitlines() if line[:6] == "SETUP="))
    overrides = {
        key: env[key] for key in ("DATABASE_URL", "CAIRN_EXECUTION", "EMAIL_URL", "PYTHONPATH")
    }
    with daphne(tmp_path, **overrides, REDIS_URL="", EVENT_INTAKE="inline") as url:
        yield url, setup, tmp_path / "cairn.sqlite3"


def post(url: str, key: str, path: str, body: dict) -> int:
    request = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_usage_moves_a_feature_into_a_band_and_its_workflow_runs(embedded, outbox):
    url, setup, database = embedded

    def query(sql: str, *params):
        with sqlite3.connect(database, timeout=30) as db:
            return db.execute(sql, params).fetchall()

    key, product = setup["key"], setup["product"]
    users = [f"u{n}@example.com" for n in range(4)]
    # The target: the contacts tagged beta (all four); three of them use reports: 75 %.
    for email in users:
        request = urllib.request.Request(
            f"{url}/api/v1/contacts/",
            data=json.dumps({"email": email, "tags": ["beta"]}).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        urllib.request.urlopen(request, timeout=30).close()
    events = [{"id": f"s-{u}", "type": "session", "contact": {"email": u}} for u in users]
    events += [
        {"id": f"r-{u}", "type": "feature_used", "contact": {"email": u},
         "data": {"feature": "reports"}}
        for u in users[:3]
    ]  # fmt: skip
    # 30 errors in 37 usage events: reliability 18.9; engagement 1 session each: 10;
    # health (.35·75 + .25·10 + .25·18.9) ÷ .85 = 39.4: critical.
    events += [
        {"id": f"e-{n}", "type": "error", "contact": {"email": users[n % 4]}} for n in range(30)
    ]
    assert post(url, key, f"/api/v1/products/{product}/events", {"events": events}) == 202

    def adoption_ran():
        return query(
            "SELECT status FROM automation_run WHERE workflow_id = ?", setup["adoption"]
        ) == [("completed",)]

    wait_until(adoption_ran, timeout=30, what="the high band's workflow ran")
    metrics = json.loads(query("SELECT metrics FROM products_product")[0][0])
    assert metrics["features"]["reports"]["adoption"] == 75.0
    assert metrics["health_score"] == 39.4
    assert query("SELECT body FROM automation_inboxitem WHERE body LIKE 'reports%'") == [
        ("reports is high",)
    ]
    # Critical health escalated to the PM; nobody acknowledged within 1 s: the executive.
    wait_until(
        lambda: query("SELECT level FROM products_escalation") == [(3,)],
        timeout=30,
        what="the escalation rose to level 3",
    )
    wait_until(lambda: outbox.to("ceo@example.com"), timeout=10, what="the executive's email")
    assert outbox.to("pm@example.com")
    # The product schedule fired without beat (the executor looks every 15 s).
    wait_until(
        lambda: query(
            "SELECT count(*) FROM automation_run WHERE workflow_id = ? AND status = 'completed'",
            setup["weekly"],
        )[0][0]
        >= 1,
        timeout=45,
        interval=0.5,
        what="the product schedule's workflow ran",
    )
