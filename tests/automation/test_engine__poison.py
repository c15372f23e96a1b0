"""Poison runs: an error no retry can fix fails the run, with the error shown.

Invariant: a run never stays `running` without progress because of an
error that is not transient; validation refuses what it can see coming
(ids that are not ids, waits longer than any calendar, ...).
"""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from automation import timers
from automation.engine import advance_run
from automation.graph import version_graph
from automation.models import Run, RunStatus, StepStatus
from automation.nodes.actions import EnrollAction
from automation.nodes.triggers import ScheduleTrigger
from automation.nodes.waits import DelayWait, EventWait
from builder.models import WorkflowVersion
from tests.automation.workflows import chain, graph, node, path_of, published, send
from tests.conftest import wait_until


@pytest.mark.parametrize(
    ("node_type", "config", "field"),
    [
        (EnrollAction, {"workflow": "not-a-uuid"}, "workflow"),
        (DelayWait, {"amount": 1e15, "unit": "weeks"}, "amount"),
        (EventWait, {"event": "x", "timeout": {"amount": 1e15, "unit": "weeks"}}, "timeout"),
        (
            EventWait,
            {
                "event": "x",
                "timeout": {"amount": 1, "unit": "days"},
                "lookback": {"amount": 1e300, "unit": "days"},
            },
            "lookback",
        ),
        (ScheduleTrigger, {"interval": {"amount": 1e20, "unit": "seconds"}}, "interval"),
    ],
)
def test_validation_refuses_what_would_poison_a_run(node_type, config, field):
    issues = node_type.validate_config(config)

    assert any(issue.field.startswith(field) for issue in issues), issues


def test_sane_durations_and_ids_pass():
    assert DelayWait.validate_config({"amount": 52, "unit": "weeks"}) == []
    assert EnrollAction.validate_config({"workflow": "9b2f7d3c-4a5e-4f60-8a1b-2c3d4e5f6a7b"}) == []


def poisoned_workflow():
    """A published workflow whose frozen graph holds what validation now refuses."""
    target = node("target_start", "trigger.event", event="never_sent")
    target_tag = node("target_tag", "action.tag", add=["enrolled"])
    other = published(graph([target, target_tag], chain(target, target_tag)), name="Target")
    start = node("start", "trigger.event", event="signup")
    enroll = node("enroll", "action.enroll", workflow=str(other.pk))
    tag = node("tag", "action.tag", add=["after"])
    workflow = published(graph([start, enroll, tag], chain(start, enroll, tag)))
    version = WorkflowVersion.objects.get(workflow=workflow)
    document = version.graph
    document["nodes"][1]["data"]["config"]["workflow"] = "not-a-uuid"
    WorkflowVersion.objects.filter(pk=version.pk).update(graph=document)
    version_graph.__globals__["_cache"].clear()
    return workflow


@pytest.mark.django_db
def test_a_non_transient_error_outside_the_node_fails_the_run_with_the_error():
    poisoned_workflow()
    send("signup", "ada@example.com")
    run = Run.objects.get()

    advance_run(run.pk)  # must not raise: the run fails instead

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "enroll" in run.error and "not-a-uuid" in run.error
    assert path_of(run) == ["start", "enroll"]
    failed = run.steps.get(node_id="enroll")
    assert failed.status == StepStatus.FAILED
    assert "not-a-uuid" in failed.error and failed.traceback
    assert run.current_step_id == failed.pk  # retry resumes from here


@pytest.mark.django_db
def test_the_reaper_finds_nothing_to_requeue_after_a_poison_run():
    poisoned_workflow()
    send("signup", "ada@example.com")
    run = Run.objects.get()
    advance_run(run.pk)

    # A failed run holds no lease (the database refuses one), so the reaper,
    # which takes back lapsed leases, never finds it.
    run.refresh_from_db()
    assert (run.status, run.lease_until) == (RunStatus.FAILED, None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.filter(pk=run.pk).update(lease_until=timezone.now() - timedelta(minutes=10))
    assert timers.reap_stale_runs() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_on_the_worker_a_poison_run_ends_failed_not_running_for_ever():
    poisoned_workflow()
    send("signup", "ada@example.com")

    run = wait_until(
        lambda: Run.objects.filter(status=RunStatus.FAILED).first(),
        timeout=20,
        what="the poison run is failed instead of staying running",
    )
    assert "not-a-uuid" in run.error
