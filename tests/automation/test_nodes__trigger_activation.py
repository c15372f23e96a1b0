"""Trigger types own their activation: intake loops over the catalogue.

Invariant: a trigger type registered into the catalogue — a connector's,
say — binds, matches and enrols through its own class methods, with no
change to ingest, contact changes or schedules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from automation.models import Run, TriggerBinding
from automation.nodes import registry
from automation.nodes.triggers import CONTACT, EVENT, TriggerNode
from builder.models import Workspace
from tests.automation.workflows import graph, node, published, send

pytestmark = pytest.mark.django_db


class BigOrderTrigger(TriggerNode):
    """Enrols on an `order` event whose total is at least the configured amount."""

    type = "trigger.test_big_order"
    label = "Big order"
    activation = EVENT
    config_schema = {
        "type": "object",
        "properties": {"at_least": {"type": "number"}},
        "required": ["at_least"],
    }

    @classmethod
    def binding_key(cls, config: Mapping[str, Any]) -> str:
        return "order"

    @classmethod
    def matches_event(cls, config: Mapping[str, Any], scope: Mapping[str, Any]) -> bool:
        return (scope["event"]["data"].get("total") or 0) >= config["at_least"]


class VipPlanTrigger(TriggerNode):
    """Enrols when a contact's plan becomes 'vip'."""

    type = "trigger.test_vip_plan"
    label = "Became VIP"
    activation = CONTACT
    config_schema = {"type": "object"}

    @classmethod
    def binding_key(cls, config: Mapping[str, Any]) -> str:
        return "plan"

    @classmethod
    def fires_on_change(cls, config, key, old_properties, new_properties, added_tags) -> bool:
        return old_properties.get(key) != "vip" and new_properties.get(key) == "vip"


@pytest.fixture
def catalogue(monkeypatch):
    for trigger in (BigOrderTrigger, VipPlanTrigger):
        monkeypatch.setitem(registry._catalogue, trigger.type, trigger)


def flow(trigger_type: str, **config):
    return published(
        graph(
            [node("start", trigger_type, **config), node("tag", "action.tag", add=["hit"])],
            [{"id": "e", "source": "start", "target": "tag"}],
            reenrollment="always",
        )
    )


@pytest.mark.usefixtures("catalogue")
def test_an_event_trigger_type_from_the_catalogue_binds_and_matches_itself():
    workflow = flow(BigOrderTrigger.type, at_least=100)
    assert TriggerBinding.objects.get(deployment=workflow.pk).key == "order"

    send("order", "small@example.com", data={"total": 20})
    send("order", "big@example.com", data={"total": 250})

    assert list(Run.objects.values_list("contact__email", flat=True)) == ["big@example.com"]


@pytest.mark.usefixtures("catalogue")
def test_a_contact_trigger_type_from_the_catalogue_fires_on_its_own_rule():
    flow(VipPlanTrigger.type)
    send("visit", "free@example.com", properties={"plan": "free"})
    send("visit", "vip@example.com", properties={"plan": "vip"})
    send("visit", "vip@example.com", properties={"plan": "vip"})  # no change: no second run

    assert list(Run.objects.values_list("contact__email", flat=True)) == ["vip@example.com"]
    assert Workspace.objects.count() == 1
