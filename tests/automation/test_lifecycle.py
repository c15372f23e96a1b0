"""A workflow's status and its runs move together (deployments.apply_status).

Invariants:
- publishing a paused workflow (paused, edited, published) lets its held runs
  go on: nothing stays held on a live workflow;
- no run is left in flight on an archived workflow, even when a batch was
  enrolling as it was archived; archiving again cleans up what is left;
- republishing keeps a schedule's next fire time when its trigger did not change;
- a schedule's firing that is cut off goes on where it stopped, and never
  keeps the other schedules from firing;
- the database refuses a held run that is not waiting, and a lease on a run
  that is not running.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from automation import runs as run_service
from automation import schedules
from automation.engine import advance_run
from automation.models import Contact, Run, RunStatus, TriggerBinding, writing_run_state
from builder import services
from tests.automation.workflows import chain, graph, node, path_of, published, send, workspace


def delay_flow(**settings):
    start = node("start", "trigger.event", event="signup")
    wait = node("wait", "wait.delay", amount=1, unit="hours")
    tag = node("tag", "action.tag", add=["welcomed"])
    return published(graph([start, wait, tag], chain(start, wait, tag), **settings))


def waiting_run() -> Run:
    run = Run.objects.get()
    advance_run(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    return run


@pytest.mark.django_db
def test_pausing_editing_and_publishing_lets_held_runs_go_on():
    workflow = delay_flow()
    send("signup", "ada@example.com")
    run = waiting_run()
    services.change_status(workflow, "paused")
    run.refresh_from_db()
    assert run.held

    # The marketer edits the paused workflow and publishes it; meanwhile the
    # run's hour is over.
    Run.objects.filter(pk=run.pk).update(resume_at=timezone.now() - timedelta(minutes=1))
    workflow.refresh_from_db()
    draft = workflow.draft
    draft["nodes"][2]["data"]["config"]["add"] = ["welcomed", "v2"]
    services.save_draft(workflow, draft)
    services.publish(workflow)

    run.refresh_from_db()
    assert not run.held
    assert run.status == RunStatus.RUNNING  # woken at once: its timer fell due
    advance_run(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert path_of(run) == ["start", "wait", "tag"]


@pytest.mark.django_db
def test_a_held_run_not_yet_due_goes_back_to_the_sweep_on_publish():
    workflow = delay_flow()
    send("signup", "ada@example.com")
    run = waiting_run()
    services.change_status(workflow, "paused")
    services.publish(workflow)

    run.refresh_from_db()
    assert (run.status, run.held) == (RunStatus.WAITING, False)
    # Resuming an active workflow changes nothing, and nothing is stuck.
    services.change_status(workflow, "active")
    run.refresh_from_db()
    assert (run.status, run.held) == (RunStatus.WAITING, False)


@pytest.mark.django_db(transaction=True)
def test_archiving_while_a_batch_enrols_leaves_no_run_in_flight():
    if connection.vendor != "postgresql":
        pytest.fail("this race needs PostgreSQL (DATABASE_URL=postgres://…)")
    workflow = delay_flow()
    ws = workspace()
    enrolled, archived = threading.Event(), threading.Event()

    def batch():
        # The queued intake's drain: it enrols a batch and starts the new runs
        # in the same transaction (they park at the one-hour delay), then commits.
        from automation.engine import start_enrolled
        from automation.enrolment import holding_new_runs
        from automation.ingest import ContactRef, IncomingEvent, ingest_events

        try:
            with transaction.atomic():
                with holding_new_runs() as new_runs:
                    ingest_events(
                        ws.pk,
                        [
                            IncomingEvent(
                                type="signup",
                                contact=ContactRef(email=f"c{n}@example.com"),
                                data={},
                                occurred_at=timezone.now(),
                            )
                            for n in range(20)
                        ],
                    )
                start_enrolled(new_runs)
                enrolled.set()
                # The archive is asked for while this batch is still open; the
                # batch commits once it is done (or after 2 s, if it waits for us).
                archived.wait(2)
        finally:
            connection.close()

    thread = threading.Thread(target=batch)
    thread.start()
    assert enrolled.wait(10)
    archiving = threading.Thread(target=lambda: _archive(workflow, archived))
    archiving.start()
    thread.join(10)
    archiving.join(10)

    left = Run.objects.filter(workflow=workflow, status__in=(RunStatus.RUNNING, RunStatus.WAITING))
    assert left.count() == 0
    assert Run.objects.filter(workflow=workflow).count() == 20


def _archive(workflow, done: threading.Event) -> None:
    try:
        services.change_status(workflow, "archived")
        # The clean-up a worker runs as soon as the archive commits.
        run_service.cancel_workflow_runs(workflow.pk)
    finally:
        done.set()
        connection.close()


@pytest.mark.django_db
def test_archiving_again_cancels_what_is_left(settings):
    workflow = delay_flow()
    services.change_status(workflow, "archived")
    # A run a late batch left behind on the archived workflow.
    send("signup", "late@example.com")  # refused: the workflow is archived
    assert Run.objects.count() == 0
    workflow.refresh_from_db()
    straggler = Run.objects.create(
        workspace=workflow.workspace,
        workflow=workflow,
        version=workflow.latest_version,
        contact=Contact.objects.get(),
        trigger_node="start",
        current_node="wait",
        status=RunStatus.WAITING,
    )

    services.change_status(workflow, "archived")  # no longer refused
    run_service.cancel_workflow_runs(workflow.pk)

    straggler.refresh_from_db()
    assert straggler.status == RunStatus.CANCELLED


def interval_flow(amount: int):
    start = node("tick", "trigger.schedule", interval={"amount": amount, "unit": "days"})
    hello = node("hello", "action.tag", add=["x"])
    return graph([start, hello], chain(start, hello))


@pytest.mark.django_db
def test_republishing_keeps_an_unchanged_schedules_next_fire_time():
    workflow = published(interval_flow(7))
    first = TriggerBinding.objects.get().next_fire_at

    # Republished five days later (a copy edit elsewhere): still due on day 7.
    later = first - timedelta(days=2)
    TriggerBinding.objects.update(next_fire_at=first)
    services.publish(workflow)
    assert TriggerBinding.objects.get().next_fire_at == first

    # A different interval is a different schedule: it starts again.
    workflow.refresh_from_db()
    services.save_draft(workflow, interval_flow(3))
    services.publish(workflow)
    assert TriggerBinding.objects.get().next_fire_at < later


def segment_flow(name: str, tag: str):
    start = node("tick", "trigger.schedule", interval={"amount": 1, "unit": "hours"},
                 segment={"tags_any": [tag]})  # fmt: skip
    hello = node("hello", "action.tag", add=["x"])
    return published(graph([start, hello], chain(start, hello)), name=name)


@pytest.mark.django_db
def test_a_cut_off_firing_goes_on_where_it_stopped_and_others_still_fire(monkeypatch):
    monkeypatch.setattr(schedules, "ENROL_BATCH", 2)
    ws = workspace()
    for n in range(7):
        Contact.objects.create(workspace=ws, email=f"big{n}@example.com", tags=["big"])
    Contact.objects.create(workspace=ws, email="small@example.com", tags=["small"])
    big = segment_flow("Big", "big")
    small = segment_flow("Small", "small")
    TriggerBinding.objects.update(next_fire_at=timezone.now() - timedelta(seconds=1))

    # The sweep's time is up after its first pages (a time limit cuts it off).
    schedules.fire_due_schedules(seconds=0)
    first = Run.objects.filter(workflow=big).count()
    assert 0 < first < 7

    # A page whose transaction dies mid-way rolls back whole, progress too.
    def killed(*_args, **_kwargs):
        raise RuntimeError("the worker was killed mid-page")

    with monkeypatch.context() as patch:
        patch.setattr(schedules, "enrol", killed)
        with pytest.raises(RuntimeError):
            schedules.fire_due_schedules()
    assert Run.objects.filter(workflow=big).count() == first

    for _sweep in range(10):  # each sweep goes on where the last one stopped
        schedules.fire_due_schedules(seconds=0)
    assert Run.objects.filter(workflow=big).count() == 7  # each contact once
    assert Run.objects.filter(workflow=small).count() == 1
    assert not TriggerBinding.objects.filter(fire_after__isnull=False).exists()


@pytest.mark.django_db
def test_the_database_refuses_run_states_that_cannot_be():
    delay_flow()
    send("signup", "ada@example.com")
    run = Run.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic(), writing_run_state("test"):
        Run.objects.filter(pk=run.pk).update(held=True)  # held, but running
    run = waiting_run()
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.filter(pk=run.pk).update(lease_until=timezone.now())  # leased, but waiting


@pytest.mark.django_db
def test_check_runs_finds_and_repairs_runs_nothing_can_wake(client):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from automation.models import Deployment

    workflow = delay_flow()
    for email in ("forgotten@example.com", "held@example.com", "archived@example.com"):
        send("signup", email)
    for run in Run.objects.all():
        advance_run(run.pk)
    forgotten, held, archived = (
        Run.objects.get(contact__email=email)
        for email in ("forgotten@example.com", "held@example.com", "archived@example.com")
    )
    # What faults in earlier releases left behind.
    Run.objects.filter(pk=forgotten.pk).update(resume_at=None)
    with writing_run_state("test: a pause an earlier release forgot"):
        Run.objects.filter(pk=held.pk).update(held=True)
    other = delay_flow()
    Run.objects.filter(pk=archived.pk).update(workflow=other)
    Deployment.objects.filter(pk=other.pk).update(
        status="archived", updated_at=timezone.now() - timedelta(hours=1)
    )

    with pytest.raises(CommandError, match="stranded runs found"):
        call_command("check_runs", stdout=StringIO())
    metrics = _metrics_page()
    assert 'cairn_runs_stranded{reason="no_timer_no_event"} 1.0' in metrics
    assert 'cairn_runs_stranded{reason="held_on_a_live_workflow"} 1.0' in metrics
    assert 'cairn_runs_stranded{reason="in_flight_on_an_archived_workflow"} 1.0' in metrics

    out = StringIO()
    call_command("check_runs", "--repair", stdout=out)
    assert "repaired 1: waiting with no timer and no event to wait for" in out.getvalue()
    forgotten.refresh_from_db()
    held.refresh_from_db()
    archived.refresh_from_db()
    assert forgotten.status == RunStatus.RUNNING
    assert (held.status, held.held) == (RunStatus.WAITING, False)
    assert archived.status == RunStatus.CANCELLED
    out = StringIO()
    call_command("check_runs", stdout=out)
    assert "No stranded runs." in out.getvalue()
    assert workflow.pk != other.pk


def _metrics_page() -> str:
    from ops.metrics import render

    return render().decode()


@pytest.mark.django_db
def test_a_runs_phase_says_what_moves_it_next():
    workflow = delay_flow()
    send("signup", "ada@example.com")
    run = Run.objects.get()
    assert run.phase == "queued"
    run = waiting_run()
    assert run.phase == "waiting_for_timer"
    services.change_status(workflow, "paused")
    run.refresh_from_db()
    assert run.phase == "held"
    services.change_status(workflow, "archived")
    run_service.cancel_workflow_runs(workflow.pk)
    run.refresh_from_db()
    assert run.phase == "cancelled"
