"""Run status changes: named compare-and-set transitions, and nothing else.

Invariants: only automation/transitions.py writes `Run.status` (and `held`):
the models refuse any other write at run time, so every test of every app
walks that rule; every
transition refuses the states it does not accept (in memory, it raises;
set-based, it leaves the row alone); a chunk's write is a compare-and-set
on `running`, so a late worker never overwrites a run cancelled meanwhile.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from automation import transitions
from automation.engine import Outcome, advance_run
from automation.models import Run, RunStateWriteRefused, RunStatus, Step, StepStatus
from automation.runs import RunStateError, retry_run
from tests.automation.workflows import chain, graph, node, published, send


@pytest.mark.django_db
def test_a_status_written_outside_the_transitions_is_refused():
    # Whatever the queryset is called and whichever app writes it.
    tag_flow()
    send("signup", "ada@example.com")
    runs_of_ada = Run.objects.filter(contact__email="ada@example.com")
    run = runs_of_ada.get()
    for write in (
        lambda: runs_of_ada.update(status=RunStatus.CANCELLED),
        lambda: Run.objects.all().update(held=True),
        lambda: Run.objects.bulk_update([run], ["status"]),
    ):
        with pytest.raises(RunStateWriteRefused, match=r"only by automation/transitions\.py"):
            write()
    run.status = RunStatus.COMPLETED
    with pytest.raises(RunStateWriteRefused):
        run.save()
    with pytest.raises(RunStateWriteRefused):
        run.save(update_fields=["status"])
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING


@pytest.mark.django_db
def test_other_writes_of_a_run_and_new_runs_are_not_state_writes():
    tag_flow()
    send("signup", "ada@example.com")  # a run is created, status and all
    run = Run.objects.get()
    run.error = "noted"
    run.save()  # its status unchanged
    Run.objects.filter(pk=run.pk).update(error="noted again")
    assert Run.objects.get(pk=run.pk).error == "noted again"


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
    transitions.save(run)

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
