from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator

from automation.nodes import waits
from automation.nodes.waits import DelayWait, EventWait, UntilWait
from tests.automation.node_helpers import NOW, config_errors, make_contact, make_ctx


def test_catalogue_entries():
    for node in waits.NODE_TYPES:
        assert node.category == "wait"
        Draft202012Validator.check_schema(node.config_schema)
    assert EventWait.handles == ("received", "timeout")
    assert EventWait.branching


# ---------------------------------------------------------------- delay


def test_delay_parks_the_run_instead_of_sleeping():
    result = DelayWait().run(make_ctx({"amount": 2, "unit": "days"}))
    assert result.wait is not None
    assert result.wait.resume_at == NOW + timedelta(days=2)
    assert result.wait.description == "2 days"
    assert result.wait.event is None


@pytest.mark.parametrize(
    ("amount", "unit", "label"),
    [(1, "hours", "1 hour"), (1.5, "hours", "1.5 hours"), (90, "seconds", "90 seconds")],
)
def test_delay_description_reads_naturally(amount, unit, label):
    assert DelayWait().run(make_ctx({"amount": amount, "unit": unit})).wait.description == label


def test_delay_resume_goes_on():
    result = DelayWait().resume(make_ctx({"amount": 2, "unit": "days"}), None, {})
    assert (result.handle, result.output, result.wait) == ("out", {"waited": "2 days"}, None)


def test_delay_config():
    assert config_errors(DelayWait, {"amount": 3, "unit": "weeks"}) == {}
    assert "amount" in config_errors(DelayWait, {"amount": 0, "unit": "days"})
    assert "unit" in config_errors(DelayWait, {"amount": 1, "unit": "months"})
    assert "(config)" in config_errors(DelayWait, {"unit": "days"})


# ---------------------------------------------------------------- until


def until(config, tz="UTC", now=NOW):
    return UntilWait().run(make_ctx(config, contact=make_contact(time_zone=tz), now=now))


def test_until_a_time_today_when_it_is_still_ahead():
    result = until({"mode": "time", "time": "18:00"})
    assert result.wait.resume_at == datetime(2025, 3, 5, 18, tzinfo=UTC)


def test_until_a_time_already_passed_today_waits_for_tomorrow():
    result = until({"mode": "time", "time": "09:00"})
    assert result.wait.resume_at == datetime(2025, 3, 6, 9, tzinfo=UTC)


def test_until_is_strictly_after_now():
    # Arriving exactly at 14:30 waits for tomorrow's 14:30, not zero seconds.
    result = until({"mode": "time", "time": "14:30"})
    assert result.wait.resume_at == NOW + timedelta(days=1)


def test_until_uses_the_contacts_time_zone():
    # 9:00 in New York (UTC-5 in early March) is 14:00 UTC: passed, so tomorrow.
    result = until({"mode": "time", "time": "09:00"}, tz="America/New_York")
    assert result.wait.resume_at == datetime(2025, 3, 6, 14, tzinfo=UTC)
    assert "America/New_York" in result.wait.description


def test_until_weekdays():
    # NOW is Wednesday; the next Monday is 2025-03-10.
    result = until({"mode": "time", "time": "09:00", "weekdays": ["monday"]})
    assert result.wait.resume_at == datetime(2025, 3, 10, 9, tzinfo=UTC)
    result = until({"mode": "time", "time": "16:00", "weekdays": ["wednesday", "friday"]})
    assert result.wait.resume_at == datetime(2025, 3, 5, 16, tzinfo=UTC)


def test_until_across_a_daylight_saving_change():
    # New York moves to UTC-4 on 2025-03-09: Monday 9:00 local is 13:00 UTC.
    result = until({"mode": "time", "time": "09:00", "weekdays": ["monday"]}, tz="America/New_York")
    assert result.wait.resume_at == datetime(2025, 3, 10, 13, tzinfo=UTC)


def test_until_a_datetime():
    result = until({"mode": "datetime", "at": "2025-12-24T18:00:00+01:00"})
    assert result.wait.resume_at == datetime(2025, 12, 24, 17, tzinfo=UTC)
    # Without an offset the date is read in the contact's zone.
    result = until({"mode": "datetime", "at": "2025-12-24T18:00"}, tz="Europe/Paris")
    assert result.wait.resume_at == datetime(2025, 12, 24, 17, tzinfo=UTC)


def test_until_a_past_datetime_goes_on_at_once():
    result = until({"mode": "datetime", "at": "2024-01-01T00:00:00Z"})
    assert result.wait is None
    assert result.handle == "out"


def test_until_config():
    assert config_errors(UntilWait, {"mode": "time", "time": "09:00"}) == {}
    assert "time" in config_errors(UntilWait, {"mode": "time", "time": "9am"})
    assert "time" in config_errors(UntilWait, {"mode": "time", "time": "24:00"})
    assert "time" in config_errors(UntilWait, {"mode": "time"})
    assert "at" in config_errors(UntilWait, {"mode": "datetime", "at": "next tuesday"})
    assert "at" in config_errors(UntilWait, {"mode": "datetime"})
    assert "weekdays.0" in config_errors(
        UntilWait, {"mode": "time", "time": "09:00", "weekdays": ["funday"]}
    )


# ---------------------------------------------------------------- event


EVENT_CONFIG = {
    "event": "purchase",
    "timeout": {"amount": 3, "unit": "days"},
    "rules": [{"field": "event.data.total", "op": "gte", "value": 50}],
}


def test_wait_event_subscribes_with_a_timeout():
    wait = EventWait().run(make_ctx(EVENT_CONFIG)).wait
    assert wait.event == "purchase"
    assert wait.resume_at == NOW + timedelta(days=3)
    assert wait.event_rules == tuple(EVENT_CONFIG["rules"])
    assert "purchase" in wait.description and "3 days" in wait.description


def test_wait_event_received_passes_the_event_on():
    payload = {"id": "e9", "type": "purchase", "data": {"total": 80}}
    result = EventWait().resume(make_ctx(EVENT_CONFIG), "received", payload)
    assert result.handle == "received"
    assert result.output == {"event": payload}


def test_wait_event_timeout():
    for handle in ("timeout", None):
        result = EventWait().resume(make_ctx(EVENT_CONFIG), handle, {})
        assert (result.handle, result.output) == ("timeout", {"timed_out": True})


def test_wait_event_config():
    assert config_errors(EventWait, EVENT_CONFIG) == {}
    assert "(config)" in config_errors(EventWait, {"event": "purchase"})
    assert "timeout.unit" in config_errors(
        EventWait, {"event": "purchase", "timeout": {"amount": 1, "unit": "months"}}
    )
