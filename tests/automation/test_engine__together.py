"""A message's runs advanced together, in one transaction (engine.advance_together).

Invariants: runs advanced together end exactly where one by one would have
left them (same steps, same contact changes, same triggers fired); a run
that reaches an outside call stops before it and makes it on its own, once;
a second run of one contact, a run another worker holds and a preview are
left to go on their own; if anything fails, nothing of the batch stays and
every run goes on one by one (a poison run fails alone).
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from automation.engine import Outcome, advance_run, advance_together
from automation.models import Contact, Run, RunStatus, StepStatus
from tests.automation.test_engine__poison import poisoned_workflow
from tests.automation.workflows import (
    chain,
    graph,
    locked_by_another_worker,
    node,
    path_of,
    published,
    send,
)
from tests.builder.factories import RunFactory

SCORE = "{{ event.data.score }}"


def scoring_flow():
    """The peer benchmark's shape: trigger → if score > 50 → hot / cold → end."""
    start = node("start", "trigger.event", event="bench")
    score = node(
        "score",
        "condition.if",
        match="all",
        rules=[{"field": "event.data.score", "op": "gt", "value": 50}],
    )
    hot = node("hot", "action.update_contact", properties={"segment": "hot", "score": SCORE})
    cold = node("cold", "action.update_contact", properties={"segment": "cold", "score": SCORE})
    end = node("end", "flow.end")
    edges = [
        {"id": "a", "source": "start", "target": "score"},
        {"id": "b", "source": "score", "sourceHandle": "yes", "target": "hot"},
        {"id": "c", "source": "score", "sourceHandle": "no", "target": "cold"},
        {"id": "d", "source": "hot", "target": "end"},
        {"id": "e", "source": "cold", "target": "end"},
    ]
    return published(graph([start, score, hot, cold, end], edges, reenrollment="always"))


def run_ids() -> list[str]:
    return [str(pk) for pk in Run.objects.order_by("created_at").values_list("pk", flat=True)]


@pytest.mark.django_db
def test_runs_advanced_together_end_where_one_by_one_would():
    scoring_flow()
    for n in range(10):
        send("bench", f"c{n}@example.com", data={"score": n * 11})

    done = advance_together(run_ids())

    assert set(done) == set(run_ids())
    assert set(done.values()) == {Outcome.COMPLETED}
    for run in Run.objects.select_related("contact"):
        score = run.trigger_event.data["score"]
        segment = "hot" if score > 50 else "cold"
        assert run.status == RunStatus.COMPLETED
        assert path_of(run) == ["start", "score", segment, "end"]
        assert run.contact.properties == {"segment": segment, "score": str(score)}
        assert run.lease_until is None and run.finished_at is not None


@pytest.mark.django_db
def test_a_property_change_made_together_fires_property_triggers():
    scoring_flow()
    start = node("start", "trigger.property", property="score", mode="crosses_above", value=50)
    tag = node("tag", "action.tag", add=["vip"])
    vip = published(graph([start, tag], chain(start, tag)), name="VIP")
    send("bench", "low@example.com", data={"score": 10})
    send("bench", "high@example.com", data={"score": 90})

    advance_together(run_ids())

    enrolled = Run.objects.filter(workflow=vip)
    assert [run.contact.email for run in enrolled] == ["high@example.com"]


@pytest.mark.django_db
def test_a_run_reaching_an_outside_call_stops_before_it_and_makes_it_on_its_own(http_target):
    start = node("start", "trigger.event", event="bench")
    tag = node("tag", "action.tag", add=["seen"])
    hook = node("hook", "action.webhook", method="POST", url=f"{http_target.url}/sink")
    published(graph([start, tag, hook], chain(start, tag, hook)))
    send("bench", "a@example.com")
    send("bench", "b@example.com")

    assert advance_together(run_ids()) == {}

    assert http_target.requests == []
    for run in Run.objects.all():
        assert run.status == RunStatus.RUNNING and run.current_node == "hook"
        assert path_of(run) == ["start", "tag"]
        assert run.contact.tags == ["seen"]
    for run_id in run_ids():
        assert advance_run(run_id) is Outcome.COMPLETED
    assert len(http_target.requests) == 2
    assert all(path_of(run) == ["start", "tag", "hook"] for run in Run.objects.all())


@pytest.mark.django_db
def test_a_second_run_of_one_contact_goes_on_its_own():
    scoring_flow()
    send("bench", "same@example.com", data={"score": 90})
    send("bench", "same@example.com", data={"score": 10})
    first, second = run_ids()

    assert advance_together([first, second]) == {first: Outcome.COMPLETED}

    assert advance_run(second) is Outcome.COMPLETED
    contact = Contact.objects.get(email="same@example.com")
    assert contact.properties == {"segment": "cold", "score": "10"}


@pytest.mark.django_db
def test_a_poison_run_rolls_the_batch_back_and_then_fails_alone():
    poisoned_workflow()
    scoring_flow()
    send("signup", "poison@example.com")
    send("bench", "fine@example.com", data={"score": 70})
    ids = run_ids()

    assert advance_together(ids) == {}
    assert all(path_of(run) == [] for run in Run.objects.all())  # nothing of it stayed

    for run_id in ids:
        advance_run(run_id)
    poisoned, fine = (Run.objects.get(pk=run_id) for run_id in ids)
    assert poisoned.status == RunStatus.FAILED
    assert poisoned.steps.get(node_id="enroll").status == StepStatus.FAILED
    assert fine.status == RunStatus.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_a_run_another_worker_holds_is_skipped_not_waited_for():
    start = node("start", "trigger.event", event="bench")
    tag = node("tag", "action.tag", add=["seen"])
    workflow = published(graph([start, tag], chain(start, tag)))
    # As enrolment leaves them, with no message sent (a live worker would take it).
    held, free = (
        str(RunFactory(workflow=workflow, current_node="start", queued_at=timezone.now()).pk)
        for _ in range(2)
    )
    with locked_by_another_worker(held):
        assert advance_together([held, free]) == {free: Outcome.COMPLETED}
    assert Run.objects.get(pk=held).status == RunStatus.RUNNING
