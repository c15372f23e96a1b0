"""Time-driven triggers: cron/interval schedules enrol their segment when due."""

from datetime import timedelta

import pytest
from django.utils import timezone

from automation.models import Contact, Run, TriggerBinding, writing_run_state
from automation.schedules import fire_due_schedules
from tests.automation.workflows import graph, node, published, workspace

pytestmark = pytest.mark.django_db


def test_a_due_schedule_enrols_its_segment_once_and_moves_its_next_fire_time():
    ws = workspace()
    Contact.objects.create(workspace=ws, email="vip@example.com", tags=["vip"])
    Contact.objects.create(workspace=ws, email="vip-free@example.com", tags=["vip"],
                           properties={"plan": "free"})  # fmt: skip
    Contact.objects.create(workspace=ws, email="other@example.com", tags=[])
    published(
        graph(
            [
                node("weekly", "trigger.schedule", cron="0 9 * * 1",
                     segment={"tags_any": ["vip"], "match": "all", "rules": [
                         {"field": "contact.properties.plan", "op": "ne", "value": "free"}]}),
                node("hello", "action.tag", add=["scheduled"]),
            ],
            [{"id": "e", "source": "weekly", "target": "hello"}],
            reenrollment="always",
        )
    )  # fmt: skip
    binding = TriggerBinding.objects.get(trigger_type="trigger.schedule")
    assert binding.next_fire_at > timezone.now()  # set on publish: next Monday 09:00 UTC
    assert binding.next_fire_at.weekday() == 0 and binding.next_fire_at.hour == 9

    assert fire_due_schedules() == 0  # not due yet
    TriggerBinding.objects.filter(pk=binding.pk).update(
        next_fire_at=timezone.now() - timedelta(seconds=1)
    )
    assert fire_due_schedules() == 1
    assert list(Run.objects.values_list("contact__email", flat=True)) == ["vip@example.com"]
    binding.refresh_from_db()
    assert binding.next_fire_at > timezone.now()
    assert fire_due_schedules() == 0  # fired once per due time


def test_a_paused_workflow_does_not_fire(settings):
    from builder import services

    ws = workspace()
    Contact.objects.create(workspace=ws, email="a@example.com")
    workflow = published(
        graph(
            [node("tick", "trigger.schedule", interval={"amount": 1, "unit": "hours"}),
             node("hello", "action.tag", add=["x"])],
            [{"id": "e", "source": "tick", "target": "hello"}],
        )
    )  # fmt: skip
    services.change_status(workflow, "paused")
    TriggerBinding.objects.update(next_fire_at=timezone.now() - timedelta(seconds=1))
    assert fire_due_schedules() == 0
    assert Run.objects.count() == 0


# ---------------------------------------------------------------- inactivity


def inactivity_flow(reenrollment="never"):
    return published(
        graph(
            [node("quiet", "trigger.inactivity", event="login", days=30),
             node("nudge", "action.tag", add=["nudged"])],
            [{"id": "e", "source": "quiet", "target": "nudge"}],
            reenrollment=reenrollment,
        )
    )  # fmt: skip


def quiet_contact(ws, email, *, days_quiet=40, ran_before=None):
    from automation.models import Event

    contact = Contact.objects.create(workspace=ws, email=email)
    Event.objects.create(
        workspace=ws,
        contact=contact,
        type="login",
        occurred_at=timezone.now() - timedelta(days=days_quiet),
    )
    if ran_before is not None:
        run = Run.objects.create(
            workspace=ws,
            workflow=ran_before,
            version=ran_before.versions.get(),
            contact=contact,
            trigger_node="quiet",
            status="completed",
        )
        # Enrolled once, long before that last login.
        Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=90))
    return contact


def test_inactivity_reaches_eligible_contacts_past_any_number_refused_by_reenrolment(
    monkeypatch,
):
    # Invariant: contacts the re-enrolment rule refuses are not candidates, so
    # however many there are, every eligible quiet contact is enrolled.
    from automation import schedules

    monkeypatch.setattr(schedules, "ENROL_BATCH", 2)  # the page size, small for the test
    ws = workspace()
    workflow = inactivity_flow("never")
    eligible = [quiet_contact(ws, f"old{i}@example.com") for i in range(3)]
    # Newer contacts, quiet too, but already enrolled once: "never" refuses them.
    for i in range(5):
        quiet_contact(ws, f"refused{i}@example.com", ran_before=workflow)

    assert schedules.enrol_inactive_contacts() == 3
    new_runs = Run.objects.filter(workflow=workflow, status="running")
    assert set(new_runs.values_list("contact_id", flat=True)) == {c.pk for c in eligible}
    assert schedules.enrol_inactive_contacts() == 0  # once per stretch of silence


def test_inactivity_after_completion_waits_for_the_active_run_to_end(monkeypatch):
    from automation import schedules

    ws = workspace()
    workflow = inactivity_flow("after_completion")
    contact = quiet_contact(ws, "busy@example.com", ran_before=workflow)
    with writing_run_state("test: the run waits, then ends"):
        Run.objects.filter(contact=contact).update(status="waiting")
    assert schedules.enrol_inactive_contacts() == 0
    with writing_run_state("test: the run waits, then ends"):
        Run.objects.filter(contact=contact).update(status="completed", finished_at=timezone.now())
    assert schedules.enrol_inactive_contacts() == 1


def test_a_schedule_enrols_its_segment_in_short_transactions_of_one_page_each(monkeypatch):
    # Invariant: a segment of any size is enrolled page by page (ENROL_BATCH
    # contacts per transaction), never in one transaction holding them all.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from automation import schedules

    monkeypatch.setattr(schedules, "ENROL_BATCH", 2)
    ws = workspace()
    for n in range(5):
        Contact.objects.create(workspace=ws, email=f"c{n}@example.com", tags=["vip"])
    Contact.objects.create(workspace=ws, email="other@example.com")
    published(
        graph(
            [node("tick", "trigger.schedule", interval={"amount": 1, "unit": "hours"},
                  segment={"tags_any": ["vip"]}),
             node("hello", "action.tag", add=["x"])],
            [{"id": "e", "source": "tick", "target": "hello"}],
        )
    )  # fmt: skip
    TriggerBinding.objects.update(next_fire_at=timezone.now() - timedelta(seconds=1))

    with CaptureQueriesContext(connection) as captured:
        assert schedules.fire_due_schedules() == 5

    # Inside the test's own transaction each transaction shows as a savepoint.
    transactions = [q for q in captured if q["sql"].startswith("SAVEPOINT")]
    assert len(transactions) >= 4  # the claim, then 3 pages of at most 2 contacts
    assert fire_due_schedules() == 0
