"""The engine called directly (no worker): the rules of execution, one by one.

`advance_run` is the very function the Celery task calls; here the test
calls it, so each invariant is checked without timing.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from automation import timers
from automation.engine import Outcome, advance_run
from automation.models import InboxItem, Run, RunStatus, Step, StepStatus
from automation.runs import RunStateError, cancel_run, cancel_workflow_runs, retry_run
from builder import services
from tests.automation.workflows import chain, edge, graph, node, path_of, published, send

pytestmark = pytest.mark.django_db


def only_run(**filters) -> Run:
    return Run.objects.get(**filters)


def make_due(run: Run) -> None:
    Run.objects.filter(pk=run.pk).update(resume_at=timezone.now() - timedelta(seconds=1))


def linear(*nodes, **settings):
    return published(graph(list(nodes), chain(*nodes), **settings))


def test_a_run_executes_every_node_once_and_records_outputs():
    linear(
        node("start", "trigger.event", event="signup"),
        node("tag", "action.tag", add=["new"]),
        node("set", "action.update_contact", properties={"greeting": "Hi {{ contact.email }}"}),
        node("note", "action.notify", message="{{ contact.email }} signed up"),
    )
    send("signup", "ada@example.com")
    run = only_run()

    assert advance_run(run.pk) is Outcome.COMPLETED

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert path_of(run) == ["start", "tag", "set", "note"]
    assert run.contact.tags == ["new"]
    assert run.contact.properties["greeting"] == "Hi ada@example.com"
    item = InboxItem.objects.get()
    assert (item.kind, item.body, item.run_id) == (
        "notification",
        "ada@example.com signed up",
        run.pk,
    )
    assert run.outputs["start"]["event"]["type"] == "signup"


def test_advancing_a_finished_run_again_writes_nothing():
    # Invariant: a task delivered twice never produces a second Step row.
    linear(node("start", "trigger.event", event="signup"), node("tag", "action.tag", add=["x"]))
    send("signup", "ada@example.com")
    run = only_run()
    advance_run(run.pk)
    assert advance_run(run.pk) is Outcome.NOT_RUNNING
    assert Step.objects.count() == 2


def test_a_wait_parks_the_run_with_one_step_row_until_the_sweep_wakes_it():
    linear(
        node("start", "trigger.event", event="signup"),
        node("pause", "wait.delay", amount=2, unit="days"),
        node("tag", "action.tag", add=["later"]),
    )
    send("signup", "ada@example.com")
    run = only_run()
    assert advance_run(run.pk) is Outcome.WAITING
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    assert run.resume_at - timezone.now() > timedelta(days=1, hours=23)
    assert timers.sweep_due_runs() == 0  # not due yet

    make_due(run)
    assert timers.sweep_due_runs() == 1
    assert advance_run(run.pk) is Outcome.COMPLETED
    run.refresh_from_db()
    assert path_of(run) == ["start", "pause", "tag"]
    assert run.steps.get(node_id="pause").status == StepStatus.COMPLETED


def test_wait_event_takes_received_when_the_event_arrives_and_timeout_otherwise():
    start = node("start", "trigger.event", event="cart_created")
    wait = node("wait", "wait.event", event="order_placed", timeout={"amount": 1, "unit": "hours"})
    bought = node("bought", "action.tag", add=["bought"])
    nudge = node("nudge", "action.tag", add=["nudged"])
    published(
        graph(
            [start, wait, bought, nudge],
            [
                *chain(start, wait),
                edge("wait", "bought", "received"),
                edge("wait", "nudge", "timeout"),
            ],
        )
    )
    send("cart_created", "buyer@example.com")
    send("cart_created", "browser@example.com")
    for run in Run.objects.all():
        advance_run(run.pk)

    send("order_placed", "buyer@example.com", data={"total": 42})
    buyer = only_run(contact__email="buyer@example.com")
    assert buyer.status == RunStatus.RUNNING  # woken at once by the event
    advance_run(buyer.pk)

    browser = only_run(contact__email="browser@example.com")
    make_due(browser)
    timers.sweep_due_runs()
    advance_run(browser.pk)

    buyer.refresh_from_db()
    browser.refresh_from_db()
    assert path_of(buyer) == ["start", "wait", "bought"]
    assert buyer.outputs["wait"]["event"]["data"] == {"total": 42}
    assert path_of(browser) == ["start", "wait", "nudge"]


def test_split_is_deterministic_per_run():
    start = node("start", "trigger.event", event="signup")
    split = node("split", "condition.split", branches=[
        {"handle": "a", "percent": 50}, {"handle": "b", "percent": 50}])  # fmt: skip
    a = node("a_tag", "action.tag", add=["a"])
    b = node("b_tag", "action.tag", add=["b"])
    published(
        graph([start, split, a, b], [*chain(start, split), edge("split", "a_tag", "a"),
                                     edge("split", "b_tag", "b")])
    )  # fmt: skip
    for i in range(40):
        send("signup", f"user{i}@example.com")
    for run in Run.objects.all():
        advance_run(run.pk)
    branches = {run.pk: run.outputs["split"]["branch"] for run in Run.objects.all()}
    assert set(branches.values()) == {"a", "b"}  # 40 contacts land on both sides
    # Re-evaluating the split for the same run gives the same branch.
    from automation.nodes.base import NodeContext
    from automation.nodes.conditions import SplitCondition

    for run in Run.objects.all():
        ctx = NodeContext(
            node_id="split", config=split["data"]["config"], contact={}, event={}, steps={},
            now=timezone.now(), run_id=str(run.pk),
        )  # fmt: skip
        assert SplitCondition().run(ctx).handle == branches[run.pk]


def test_loop_guard_fails_a_run_that_loops_forever(settings):
    settings.RUN_MAX_STEPS = 12
    start = node("start", "trigger.event", event="signup")
    pause = node("pause", "wait.delay", amount=1, unit="seconds")
    tag = node("tag", "action.tag", add=["again"])
    published(graph([start, tag, pause], [*chain(start, tag, pause), edge("pause", "tag")]))
    send("signup", "loop@example.com")
    run = only_run()
    for _ in range(20):
        advance_run(run.pk)
        make_due(run)
        timers.sweep_due_runs()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "RUN_MAX_STEPS" in run.error
    assert run.steps.count() == 12


def test_reenrolment_rules():
    def flow(rule, event):
        return linear(
            node("start", "trigger.event", event=event),
            node("tag", "action.tag", add=["x"]),
            reenrollment=rule,
        )

    never, after, always = flow("never", "e1"), flow("after_completion", "e2"), flow("always", "e3")
    for event in ("e1", "e2", "e3"):
        send(event, "ada@example.com")
        send(event, "ada@example.com")  # second while the first is still running
    assert Run.objects.filter(workflow=never).count() == 1
    assert Run.objects.filter(workflow=after).count() == 1
    assert Run.objects.filter(workflow=always).count() == 2

    for run in Run.objects.all():
        advance_run(run.pk)
    for event in ("e1", "e2", "e3"):
        send(event, "ada@example.com")
    assert Run.objects.filter(workflow=never).count() == 1
    assert Run.objects.filter(workflow=after).count() == 2
    assert Run.objects.filter(workflow=always).count() == 3


def test_exit_event_ends_waiting_runs():
    workflow = linear(
        node("start", "trigger.event", event="cart_created"),
        node("pause", "wait.delay", amount=1, unit="days"),
        node("remind", "action.tag", add=["reminded"]),
        exit_when={"event": "order_placed"},
    )
    send("cart_created", "ada@example.com")
    run = only_run(workflow=workflow)
    advance_run(run.pk)
    send("order_placed", "ada@example.com")
    run.refresh_from_db()
    assert run.status == RunStatus.EXITED
    assert run.steps.get(node_id="pause").status == StepStatus.CANCELLED


def test_exit_rules_are_checked_before_each_step():
    linear(
        node("start", "trigger.event", event="signup"),
        node("upgrade", "action.update_contact", properties={"plan": "pro"}),
        node("upsell", "action.tag", add=["upsold"]),
        exit_when={"match": "all", "rules": [
            {"field": "contact.properties.plan", "op": "eq", "value": "pro"}]},
    )  # fmt: skip
    send("signup", "ada@example.com")
    run = only_run()
    assert advance_run(run.pk) is Outcome.EXITED
    assert path_of(run) == ["start", "upgrade"]


def test_pause_holds_waiting_runs_and_resume_releases_them():
    workflow = linear(
        node("start", "trigger.event", event="signup"),
        node("pause", "wait.delay", amount=1, unit="seconds"),
        node("tag", "action.tag", add=["done"]),
    )
    send("signup", "ada@example.com")
    run = only_run()
    advance_run(run.pk)
    services.change_status(workflow, "paused")
    make_due(run)
    assert timers.sweep_due_runs() == 0  # held
    send("signup", "bob@example.com")
    assert Run.objects.count() == 1  # paused workflows enrol no one

    services.change_status(workflow, "active")
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING  # woken on resume
    advance_run(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


def test_archive_cancels_runs_in_flight():
    workflow = linear(
        node("start", "trigger.event", event="signup"),
        node("pause", "wait.delay", amount=1, unit="days"),
    )
    send("signup", "ada@example.com")
    advance_run(only_run().pk)
    services.change_status(workflow, "archived")
    # The request leaves the runs to the executor's cleanup (after commit).
    assert only_run().status == RunStatus.WAITING
    assert timers.sweep_due_runs() == 0  # never woken again
    assert cancel_workflow_runs(workflow.pk) == 1
    run = only_run()
    assert run.status == RunStatus.CANCELLED
    assert run.steps.get(node_id="pause").status == StepStatus.CANCELLED


def test_archive_cleanup_cancels_in_pages_of_their_own(monkeypatch):
    # Invariant: archiving a workflow with many runs in flight never cancels
    # them all in one transaction (nor in the HTTP request).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from automation import runs

    monkeypatch.setattr(runs, "CANCEL_BATCH", 2)
    workflow = linear(
        node("start", "trigger.event", event="signup"),
        node("pause", "wait.delay", amount=1, unit="days"),
    )
    for n in range(5):
        send("signup", f"p{n}@example.com")
    for run in Run.objects.all():
        advance_run(run.pk)
    services.change_status(workflow, "archived")

    with CaptureQueriesContext(connection) as captured:
        assert runs.cancel_workflow_runs(workflow.pk) == 5

    assert len([q for q in captured if q["sql"].startswith("SAVEPOINT")]) >= 3
    assert set(Run.objects.values_list("status", flat=True)) == {RunStatus.CANCELLED}


def test_cancel_and_retry_refuse_the_wrong_states():
    linear(node("start", "trigger.event", event="signup"), node("tag", "action.tag", add=["x"]))
    send("signup", "ada@example.com")
    run = only_run()
    with pytest.raises(RunStateError):
        retry_run(run)
    cancel_run(run)
    assert only_run().status == RunStatus.CANCELLED
    with pytest.raises(RunStateError):
        cancel_run(run)
    assert advance_run(run.pk) is Outcome.NOT_RUNNING


def test_a_failure_while_writing_a_step_leaves_no_partial_write(monkeypatch):
    # Invariant: a step is all or nothing. The tag node's step row and its
    # contact change commit together, or neither does.
    linear(
        node("start", "trigger.event", event="signup"),
        node("tag", "action.tag", add=["tagged"]),
        node("set", "action.update_contact", properties={"seen": "yes"}),
    )
    send("signup", "ada@example.com")
    run = only_run()
    from django.db import OperationalError

    import automation.engine.records

    def failing_save(contacts, fields):
        raise OperationalError("database went away")  # transient: the run stays running

    # The last write of the chunk fails, after both steps were executed.
    monkeypatch.setattr(automation.engine.records, "save_contacts", failing_save)
    with pytest.raises(OperationalError):
        advance_run(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert run.current_node == "start"
    assert Step.objects.count() == 0
    assert run.contact.tags == [] and run.contact.properties == {}

    monkeypatch.undo()
    assert advance_run(run.pk) is Outcome.COMPLETED
    assert path_of(run) == ["start", "tag", "set"]
    assert Step.objects.count() == 3


def test_enroll_action_starts_the_contact_in_another_workflow():
    target = linear(
        node("start", "trigger.event", event="never_sent"), node("tag", "action.tag", add=["t"])
    )
    linear(
        node("start", "trigger.event", event="signup"),
        node("enrol", "action.enroll", workflow=str(target.pk)),
    )
    send("signup", "ada@example.com")
    first = Run.objects.exclude(workflow=target).get()
    advance_run(first.pk)
    second = Run.objects.get(workflow=target)
    advance_run(second.pk)
    second.refresh_from_db()
    assert second.status == RunStatus.COMPLETED
    assert second.contact.tags == ["t"]


def test_property_trigger_fires_when_a_threshold_is_crossed():
    linear(
        node("start", "trigger.property", property="score", mode="crosses_below", value=40),
        node("alert", "action.tag", add=["at-risk"]),
    )
    send("login", "ada@example.com", properties={"score": 55})
    assert Run.objects.count() == 0
    send("login", "ada@example.com", properties={"score": 35})
    assert Run.objects.count() == 1
    send("login", "ada@example.com", properties={"score": 30})  # already below: no new crossing
    assert Run.objects.count() == 1
