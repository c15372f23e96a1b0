"""A connection's credentials go only to its sites, on the embedded default's SQLite.

Invariant: as on PostgreSQL, publishing a webhook step that would send a
connection's secret to another site is refused naming the node and field,
and a templated URL that renders to another site sends nothing.
"""

from __future__ import annotations

import json

from tests.products.embedded import shell, sqlite_env

TOKEN = "tok_live_sqlite_only_for_the_crm_42"

SCRIPT = """
import json
from automation.engine import advance_run
from automation.models import Run, Step
from builder import services
from integrations.models import Connection
from tests.automation.workflows import chain, graph, node, published, send, workspace

crm = Connection(workspace=workspace(), provider="http", name="CRM")
crm.settings = {"auth": "bearer", "hosts": ["%(site)s"]}
crm.set_secrets({"token": "%(token)s"})
crm.save()

def flow(url, name):
    start = node("start", "trigger.event", event=name)
    hook = node("hook", "action.webhook", url=url, connection=str(crm.pk))
    return graph([start, hook], chain(start, hook))

fixed = services.create_workflow(workspace(), name="Fixed", graph=flow("%(other)s/x", "fixed"))
try:
    services.publish(fixed)
    refused = None
except services.WorkflowError as error:
    refused = [(i.node, i.field, i.code, i.message) for i in error.issues]

published(flow("{{ event.data.url }}", "templated"), name="Templated")
send("templated", "m@example.com", data={"url": "%(other)s/steal"})
run = Run.objects.get()
advance_run(run.pk)
run.refresh_from_db()
print("RESULT=" + json.dumps({
    "refused": refused,
    "run": run.status,
    "error": Step.objects.get(run=run, node_id="hook").error,
}))
"""


def test_credentials_go_only_to_the_connections_sites_on_sqlite(tmp_path, service, other_service):
    env = sqlite_env(tmp_path, OUTBOUND_ALLOWLIST="127.0.0.1")

    printed = shell(env, SCRIPT % {"site": service.url, "other": other_service.url, "token": TOKEN})

    result = json.loads(next(line[7:] for line in printed.splitlines() if line[:7] == "RESULT="))
    assert result["refused"] == [
        [
            "hook",
            "config.url",
            "connection_host",
            f"This connection may only be used with {service.url}.",
        ]
    ]
    assert result["run"] == "failed"
    assert f"may only be used with {service.url}" in result["error"]
    assert other_service.requests == []
