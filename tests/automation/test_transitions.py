"""Run status changes: named compare-and-set transitions, and nothing else.

Invariants: only automation/transitions.py writes `Run.status`; every
transition refuses the states it does not accept (in memory, it raises;
set-based, it leaves the row alone); a chunk's write is a compare-and-set
on `running`, so a late worker never overwrites a run cancelled meanwhile.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.utils import timezone

from automation import transitions
from automation.engine import Outcome, advance_run
from automation.models import Run, RunStatus, Step, StepStatus
from automation.runs import RunStateError, retry_run
from tests.automation.workflows import chain, graph, node, published, send

ROOT = Path(__file__).resolve().parents[2]


def status_writes(path: Path) -> list[str]:
    source = path.read_text()
    found = []
    for item in ast.walk(ast.parse(source)):
        if isinstance(item, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    owner = ast.get_source_segment(source, target.value) or ""
                    value = ast.get_source_segment(source, item.value) or ""
                    if "RunStatus" in value or owner in ("run", "locked", "chunk.run"):
                        found.append(f"{path.relative_to(ROOT)}:{item.lineno}")
        elif isinstance(item, ast.Call) and isinstance(item.func, ast.Attribute):
            root = item.func.value
            while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
                root = root.func if isinstance(root, ast.Call) else root.value
            runs = isinstance(root, ast.Name) and root.id in ("Run", "run", "runs", "locked")
            for keyword in item.keywords:
                value = ast.get_source_segment(source, keyword.value) or ""
                if (
                    item.func.attr == "update"
                    and keyword.arg == "status"
                    and ("RunStatus" in value or runs)
                ) or (keyword.arg == "update_fields" and runs and '"status"' in value):
                    found.append(f"{path.relative_to(ROOT)}:{item.lineno}")
    return found


def test_only_the_transitions_module_writes_run_status():
    writes = []
    for package in ("automation", "builder", "integrations"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path.name == "transitions.py":
                continue
            writes += status_writes(path)
    assert writes == []


IN_MEMORY = {
    "park": lambda run: transitions.park(run, step=None, resume_at=None),
    "hold": lambda run: transitions.hold(run),
    "complete": transitions.complete,
    "fail": lambda run: transitions.fail(run, "boom"),
    "exit": transitions.exit,
    "cancel": lambda run: transitions.cancel(run, "stop"),
}


@pytest.mark.parametrize("name", sorted(IN_MEMORY))
@pytest.mark.parametrize("status", RunStatus.values)
def test_each_transition_accepts_only_its_declared_states(name, status):
    run = Run(status=status)
    if status in transitions.ACCEPTS[name]:
        IN_MEMORY[name](run)
        assert run.status == transitions.TRANSITIONS[name][1]
    else:
        with pytest.raises(transitions.TransitionRefused):
            IN_MEMORY[name](run)
        assert run.status == status


def tag_flow():
    start = node("start", "trigger.event", event="signup")
    tag = node("tag", "action.tag", add=["t"])
    return published(graph([start, tag], chain(start, tag)))


@pytest.mark.django_db
def test_set_based_transitions_leave_runs_in_other_states_alone():
    tag_flow()
    send("signup", "ada@example.com")
    run = Run.objects.get()
    assert advance_run(run.pk) is Outcome.COMPLETED
    completed = Run.objects.filter(pk=run.pk)

    assert transitions.wake(completed) == 0
    assert transitions.cancel_runs(completed, "late") == 0
    assert transitions.exit_runs(completed, "late") == 0
    assert transitions.discard(completed, "late") == 0
    with pytest.raises(RunStateError):
        retry_run(run)
    assert Run.objects.get(pk=run.pk).status == RunStatus.COMPLETED


@pytest.mark.django_db
def test_discard_ends_a_failed_run_and_keeps_why_it_failed():
    tag_flow()
    send("signup", "ada@example.com")
    run = Run.objects.get()
    transitions.fail(run, "HTTP 500")
    Run.objects.filter(pk=run.pk).update(status=run.status, error=run.error)

    assert transitions.discard(Run.objects.filter(pk=run.pk), "by ada") == 1
    assert transitions.discard(Run.objects.filter(pk=run.pk), "twice") == 0  # no longer failed

    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert run.error == "discarded: by ada\nHTTP 500"


@pytest.mark.django_db
def test_a_late_chunk_cannot_overwrite_a_run_cancelled_meanwhile():
    tag_flow()
    send("signup", "ada@example.com")
    stale = Run.objects.get()  # what a slow worker read while the run was running
    transitions.cancel_runs(Run.objects.filter(pk=stale.pk), "cancelled by a user")

    transitions.complete(stale)
    with pytest.raises(transitions.TransitionRefused):
        transitions.save(stale)
    assert Run.objects.get(pk=stale.pk).status == RunStatus.CANCELLED


@pytest.mark.django_db
def test_cancel_closes_the_open_step():
    start = node("start", "trigger.event", event="signup")
    pause = node("pause", "wait.delay", amount=1, unit="days")
    published(graph([start, pause], chain(start, pause)))
    send("signup", "ada@example.com")
    run = Run.objects.get()
    advance_run(run.pk)

    assert transitions.cancel_runs(Run.objects.filter(pk=run.pk), "stop") == 1

    step = Step.objects.get(node_id="pause")
    assert step.status == StepStatus.CANCELLED and step.finished_at <= timezone.now()
