"""Time-driven triggers: cron/interval schedules enrol their segment when due."""

from datetime import timedelta

import pytest
from django.utils import timezone

from automation.models import Contact, Run, TriggerBinding
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
