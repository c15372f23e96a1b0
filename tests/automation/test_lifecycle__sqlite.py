"""A workflow's status and its runs on the embedded default's SQLite database:
the same rules as on PostgreSQL (tests/automation/test_lifecycle.py)."""

from __future__ import annotations

import json

from tests.products.embedded import shell, sqlite_env

SCRIPT = """
import json
from datetime import timedelta
from django.utils import timezone
from automation import runs as run_service, schedules
from automation.engine import advance_run
from automation.models import Contact, Run, TriggerBinding
from builder import services
from builder.models import Workflow
from tests.automation.test_lifecycle import delay_flow, segment_flow
from tests.automation.workflows import send, workspace

workflow = delay_flow()
send("signup", "ada@example.com")
run = Run.objects.get()
advance_run(run.pk)
services.change_status(workflow, "paused")
Run.objects.filter(pk=run.pk).update(resume_at=timezone.now() - timedelta(minutes=1))
services.publish(workflow)
run.refresh_from_db()
released = {"held": run.held, "status": run.status}
advance_run(run.pk)
run.refresh_from_db()
released["then"] = run.status

services.change_status(workflow, "archived")
services.change_status(workflow, "archived")

schedules.ENROL_BATCH = 2
ws = workspace()
for n in range(5):
    Contact.objects.create(workspace=ws, email=f"big{n}@example.com", tags=["big"])
big = segment_flow("Big", "big")
first_fire = TriggerBinding.objects.get(deployment_id=big.pk).next_fire_at
services.publish(big)
kept = TriggerBinding.objects.get(deployment_id=big.pk).next_fire_at == first_fire
TriggerBinding.objects.update(next_fire_at=timezone.now() - timedelta(seconds=1))
schedules.fire_due_schedules(seconds=0)
after_one_sweep = Run.objects.filter(workflow=big).count()
for _ in range(5):
    schedules.fire_due_schedules(seconds=0)
print("RESULT=" + json.dumps({
    "released": released,
    "archived": Workflow.objects.get(pk=workflow.pk).status,
    "kept": kept,
    "after_one_sweep": after_one_sweep,
    "enrolled": Run.objects.filter(workflow=big).count(),
}))
"""


def test_status_and_runs_move_together_on_sqlite(tmp_path):
    printed = shell(sqlite_env(tmp_path), SCRIPT)
    result = json.loads(next(line[7:] for line in printed.splitlines() if line[:7] == "RESULT="))
    assert result["released"] == {"held": False, "status": "running", "then": "completed"}
    assert result["archived"] == "archived"
    assert result["kept"] is True
    assert 0 < result["after_one_sweep"] < 5
    assert result["enrolled"] == 5
