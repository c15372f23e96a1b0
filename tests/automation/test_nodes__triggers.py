from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator

from automation.nodes import triggers
from automation.nodes.triggers import (
    EventTrigger,
    InactivityTrigger,
    PropertyTrigger,
    ScheduleTrigger,
    SegmentTrigger,
    WebhookTrigger,
    next_schedule_fire,
    property_trigger_fires,
    segment_includes,
    trigger_rules_match,
)
from automation.rules import MISSING
from tests.automation.node_helpers import config_errors, make_contact, make_ctx


def test_every_trigger_is_a_trigger_with_one_out_handle_and_a_valid_schema():
    assert {node.type for node in triggers.NODE_TYPES} == {
        "trigger.event",
        "trigger.webhook",
        "trigger.schedule",
        "trigger.property",
        "trigger.segment",
        "trigger.inactivity",
    }
    for node in triggers.NODE_TYPES:
        assert node.category == "trigger"
        assert node.handles == ("out",)
        Draft202012Validator.check_schema(node.config_schema)
        assert node.config_schema["additionalProperties"] is False


def test_run_records_the_event_that_started_the_run():
    ctx = make_ctx({"event": "signup"}, event={"id": "e-1", "type": "signup", "data": {}})
    result = EventTrigger().run(ctx)
    assert result.handle == "out"
    assert result.output == {"event": {"type": "signup", "id": "e-1"}}
    # Schedules and tags start runs without an event.
    assert SegmentTrigger().run(make_ctx({"tag": "vip"})).output == {}


def test_event_trigger_config():
    assert config_errors(EventTrigger, {"event": "signup"}) == {}
    assert "event" in str(config_errors(EventTrigger, {}))
    rules = [{"field": "event.data.total", "op": "gte", "value": 50}]
    assert config_errors(EventTrigger, {"event": "purchase", "rules": rules}) == {}
    assert config_errors(EventTrigger, {"event": "purchase", "colour": "red"})


def test_trigger_rules_filter_events():
    config = {
        "event": "purchase",
        "rules": [{"field": "event.data.total", "op": "gte", "value": 50}],
    }
    assert trigger_rules_match(config, {"event": {"data": {"total": 80}}})
    assert not trigger_rules_match(config, {"event": {"data": {"total": 20}}})
    assert trigger_rules_match({"event": "purchase"}, {"event": {}})
    assert config_errors(WebhookTrigger, {}) == {}


# ---------------------------------------------------------------- schedule


@pytest.mark.parametrize(
    ("config", "bad_field"),
    [
        ({"cron": "0 9 * * 1"}, None),
        ({"interval": {"amount": 1, "unit": "days"}, "timezone": "Europe/Paris"}, None),
        ({}, "cron"),
        ({"cron": "0 9 * * 1", "interval": {"amount": 1, "unit": "days"}}, "cron"),
        ({"cron": "every monday"}, "cron"),
        ({"cron": "0 0 9 * * 1"}, "cron"),  # six fields (seconds) are not accepted
        ({"cron": "0 9 * * 1", "timezone": "Europe/Atlantis"}, "timezone"),
        ({"interval": {"amount": 0, "unit": "days"}}, "interval.amount"),
    ],
)
def test_schedule_config(config, bad_field):
    errors = config_errors(ScheduleTrigger, config)
    if bad_field is None:
        assert errors == {}
    else:
        assert bad_field in errors, errors


def test_cron_schedule_follows_its_time_zone_across_daylight_saving():
    config = {"cron": "0 9 * * *", "timezone": "Europe/Paris"}
    # Before the March switch Paris is UTC+1, after it UTC+2.
    assert next_schedule_fire(config, datetime(2025, 3, 29, 12, tzinfo=UTC)) == datetime(
        2025, 3, 30, 7, tzinfo=UTC
    )
    assert next_schedule_fire(config, datetime(2025, 3, 28, 12, tzinfo=UTC)) == datetime(
        2025, 3, 29, 8, tzinfo=UTC
    )


def test_next_fire_is_strictly_after():
    config = {"cron": "*/15 * * * *"}
    at = datetime(2025, 3, 5, 14, 30, tzinfo=UTC)
    assert next_schedule_fire(config, at) == at + timedelta(minutes=15)
    interval = {"interval": {"amount": 2, "unit": "hours"}}
    assert next_schedule_fire(interval, at) == at + timedelta(hours=2)


def test_segment_selects_contacts_by_tags_and_rules():
    config = {
        "cron": "0 9 * * 1",
        "segment": {
            "tags_any": ["beta", "vip"],
            "rules": [{"field": "contact.properties.plan", "op": "eq", "value": "pro"}],
        },
    }
    assert config_errors(ScheduleTrigger, config) == {}
    assert segment_includes(config, {"contact": make_contact(tags=["vip"])})
    assert not segment_includes(config, {"contact": make_contact(tags=["customer"])})
    assert not segment_includes(
        config, {"contact": make_contact(tags=["vip"], properties={"plan": "free"})}
    )
    # No segment: everyone.
    assert segment_includes({"cron": "0 9 * * 1"}, {"contact": make_contact(tags=[])})


# ---------------------------------------------------------------- property


def test_property_config():
    assert config_errors(PropertyTrigger, {"property": "score"}) == {}
    assert "value" in config_errors(PropertyTrigger, {"property": "score", "mode": "crosses_above"})
    assert "min" in config_errors(PropertyTrigger, {"property": "score", "mode": "enters_band"})
    band = {"property": "score", "mode": "enters_band", "min": 50, "max": 10}
    assert "max" in config_errors(PropertyTrigger, band)
    assert "mode" in config_errors(PropertyTrigger, {"property": "score", "mode": "doubles"})


@pytest.mark.parametrize(
    ("old", "new", "fires"),
    [
        ("free", "pro", True),
        ("pro", "pro", False),
        (MISSING, "pro", True),
        ("pro", MISSING, True),
        (MISSING, None, False),
    ],
)
def test_changed(old, new, fires):
    assert property_trigger_fires({"property": "plan"}, old, new) is fires


@pytest.mark.parametrize(
    ("old", "new", "fires"),
    [
        (40, 50, True),  # reaching the threshold counts
        (40, 60, True),
        (50, 60, False),  # already above: no second enrolment
        (60, 40, False),
        (MISSING, 70, True),  # a new property counts as coming from below
        (None, 70, True),
        ("40", "55", True),  # numeric strings are numbers
        (40, "lots", False),
    ],
)
def test_crosses_above(old, new, fires):
    config = {"property": "score", "mode": "crosses_above", "value": 50}
    assert property_trigger_fires(config, old, new) is fires


@pytest.mark.parametrize(
    ("old", "new", "fires"),
    [(60, 40, True), (50, 49, True), (40, 30, False), (MISSING, 10, False), (60, 50, False)],
)
def test_crosses_below(old, new, fires):
    config = {"property": "score", "mode": "crosses_below", "value": 50}
    assert property_trigger_fires(config, old, new) is fires


@pytest.mark.parametrize(
    ("old", "new", "fires"),
    [
        (5, 10, True),  # min is included
        (5, 19, True),
        (5, 20, False),  # max is not
        (12, 15, False),  # moving inside the band is not entering it
        (25, 15, True),
        (MISSING, 15, True),
    ],
)
def test_enters_band(old, new, fires):
    config = {"property": "score", "mode": "enters_band", "min": 10, "max": 20}
    assert property_trigger_fires(config, old, new) is fires


def test_open_ended_band():
    config = {"property": "score", "mode": "enters_band", "min": 100}
    assert property_trigger_fires(config, 99, 1000)
    assert not property_trigger_fires(config, 101, 1000)


# ---------------------------------------------------------------- segment, inactivity


def test_segment_and_inactivity_config():
    assert config_errors(SegmentTrigger, {"tag": "beta"}) == {}
    assert "tag" in config_errors(SegmentTrigger, {"tag": ""})
    assert config_errors(InactivityTrigger, {"event": "login", "days": 14}) == {}
    assert "days" in config_errors(InactivityTrigger, {"event": "login", "days": 0})
    assert "days" in config_errors(InactivityTrigger, {"event": "login", "days": 1.5})
