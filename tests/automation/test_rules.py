from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator

from automation.rules import (
    DURATION_SCHEMA,
    MISSING,
    RULE_SCHEMA,
    RULES_SCHEMA,
    evaluate,
    now_scope,
    resolve,
    to_timedelta,
)

NOW = datetime(2025, 3, 5, 14, 30, tzinfo=UTC)

DATA = {
    "contact": {
        "email": "ada@example.com",
        "properties": {
            "plan": "pro",
            "score": 42,
            "score_text": "42",
            "used_product": True,
            "nickname": None,
            "empty": "",
            "last_seen": "2025-03-03T10:00:00+00:00",
            "signed_up": "2024-01-01T00:00:00Z",
        },
        "tags": ["customer", "Beta"],
    },
    "event": {"type": "cart_created", "data": {"total": "59.90", "items": [{"sku": "A1"}]}},
    "steps": {"wait1": {"event": {"data": {"total": 120}}}},
    "now": now_scope(NOW, "UTC"),
}


def rule(field, op, value=None):
    result = {"field": field, "op": op}
    if value is not None:
        result["value"] = value
    return result


def check(field, op, value=None):
    return evaluate("all", [rule(field, op, value)], DATA)


# ---------------------------------------------------------------- resolve


def test_resolve_follows_dicts_and_list_indexes():
    assert resolve("contact.properties.plan", DATA) == "pro"
    assert resolve("steps.wait1.event.data.total", DATA) == 120
    assert resolve("event.data.items.0.sku", DATA) == "A1"


def test_resolve_missing_paths_give_the_sentinel_not_an_error():
    assert resolve("contact.properties.nope", DATA) is MISSING
    assert resolve("event.data.items.5.sku", DATA) is MISSING
    assert resolve("event.data.items.x", DATA) is MISSING
    assert resolve("contact.email.domain", DATA) is MISSING
    # A stored null is not the same as a missing field.
    assert resolve("contact.properties.nickname", DATA) is None


# ---------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("contact.properties.plan", "eq", "pro", True),
        ("contact.properties.plan", "eq", "free", False),
        ("contact.properties.plan", "ne", "free", True),
        ("contact.properties.missing", "ne", "pro", True),
        ("contact.properties.missing", "eq", "pro", False),
        # A number typed into the canvas matches a numeric string from an event.
        ("event.data.total", "eq", 59.9, True),
        ("contact.properties.used_product", "eq", True, True),
        ("contact.properties.used_product", "eq", 1, False),
        ("event.data.total", "gt", 50, True),
        ("event.data.total", "gte", "59.90", True),
        ("event.data.total", "lt", 50, False),
        ("contact.properties.score", "lte", 42, True),
        ("contact.properties.score_text", "gt", "9", True),  # numerically, not as text
        ("contact.properties.signed_up", "lt", "2025-01-01", True),
    ],
)
def test_comparisons(field, op, value, expected):
    assert check(field, op, value) is expected


@pytest.mark.parametrize(
    ("field", "op", "value"),
    [
        ("contact.properties.plan", "gt", 5),
        ("contact.properties.missing", "gt", 5),
        ("contact.properties.nickname", "lt", 5),
        ("contact.tags", "gte", 1),
        ("event.data", "lt", {"a": 1}),
    ],
)
def test_incomparable_values_are_false_and_never_raise(field, op, value):
    assert check(field, op, value) is False


def test_contains_is_case_insensitive_on_text_and_works_on_lists():
    assert check("contact.email", "contains", "EXAMPLE.com")
    assert check("contact.tags", "contains", "beta")
    assert not check("contact.tags", "contains", "vip")
    assert check("contact.tags", "not_contains", "vip")
    assert check("contact.properties.missing", "not_contains", "x")
    assert not check("contact.properties.score", "contains", "4")


def test_in_and_not_in():
    assert check("contact.properties.plan", "in", ["free", "pro"])
    assert check("contact.properties.plan", "in", "free, pro")
    assert not check("contact.properties.plan", "in", ["free"])
    assert check("contact.properties.plan", "not_in", ["free"])
    # A list field is "in" the options when any of its items is.
    assert check("contact.tags", "in", ["beta", "vip"])
    assert not check("contact.properties.missing", "in", ["x"])


def test_exists_treats_null_and_empty_text_as_not_set():
    assert check("contact.properties.plan", "exists")
    assert check("contact.properties.missing", "not_exists")
    assert check("contact.properties.nickname", "not_exists")
    assert check("contact.properties.empty", "not_exists")
    assert check("contact.properties.score", "exists")


def test_starts_and_ends_with():
    assert check("contact.email", "starts_with", "ADA@")
    assert check("contact.email", "ends_with", ".com")
    assert not check("contact.properties.score", "starts_with", "4")


def test_within_last_is_relative_to_the_scope_now():
    # last_seen is two days and a half before NOW.
    assert check("contact.properties.last_seen", "within_last", {"amount": 3, "unit": "days"})
    assert not check("contact.properties.last_seen", "within_last", {"amount": 1, "unit": "days"})
    assert check("contact.properties.last_seen", "within_last", 3)  # plain number = days
    assert check("contact.properties.last_seen", "not_within_last", {"amount": 24, "unit": "hours"})
    assert not check("contact.properties.signed_up", "within_last", {"amount": 1, "unit": "weeks"})


def test_within_last_accepts_datetime_objects_and_future_dates_are_not_within():
    data = {
        "now": {"iso": NOW.isoformat()},
        "a": NOW - timedelta(minutes=5),
        "b": NOW + timedelta(minutes=5),
    }
    within = [rule("a", "within_last", {"amount": 10, "unit": "minutes"})]
    assert evaluate("all", within, data)
    assert not evaluate("all", [rule("b", "within_last", {"amount": 10, "unit": "minutes"})], data)


def test_within_last_without_a_now_scope_uses_the_clock():
    recent = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert evaluate(
        "all", [rule("x", "within_last", {"amount": 1, "unit": "hours"})], {"x": recent}
    )


def test_never_seen_counts_as_not_within_last():
    assert check("contact.properties.missing", "not_within_last", 30)
    assert not check("contact.properties.missing", "within_last", 30)
    assert not check("contact.properties.plan", "within_last", 30)
    assert not check("contact.properties.plan", "not_within_last", 30)


def test_is_true_and_is_false():
    data = {"t": True, "s": "yes", "f": "false", "z": 0, "junk": "banana"}
    assert evaluate("all", [rule("t", "is_true"), rule("s", "is_true")], data)
    assert evaluate("all", [rule("f", "is_false"), rule("z", "is_false")], data)
    assert evaluate("all", [rule("missing", "is_false")], data)
    assert not evaluate("any", [rule("junk", "is_true"), rule("junk", "is_false")], data)


def test_unknown_operators_and_malformed_rules_are_false():
    assert not evaluate("all", [{"field": "contact.email", "op": "matches", "value": "x"}], DATA)
    assert not evaluate("all", ["not a rule"], DATA)


# ---------------------------------------------------------------- match


def test_match_all_any_and_empty():
    yes = rule("contact.properties.plan", "eq", "pro")
    no = rule("contact.properties.plan", "eq", "free")
    assert evaluate("all", [yes, yes], DATA)
    assert not evaluate("all", [yes, no], DATA)
    assert evaluate("any", [no, yes], DATA)
    assert not evaluate("any", [no, no], DATA)
    assert evaluate("all", [], DATA)
    assert evaluate("any", [], DATA)


# ---------------------------------------------------------------- now


def test_now_scope_is_in_the_contacts_time_zone():
    # 2025-03-05 23:30 UTC is already Thursday morning in Tokyo.
    scope = now_scope(datetime(2025, 3, 5, 23, 30, tzinfo=UTC), "Asia/Tokyo")
    assert scope["weekday"] == "thursday"
    assert scope["weekday_number"] == 3
    assert scope["hour"] == 8
    assert scope["minute"] == 30
    assert scope["time"] == "08:30"
    assert scope["date"] == "2025-03-06"
    assert scope["timezone"] == "Asia/Tokyo"
    assert scope["iso"].endswith("+09:00")


def test_now_scope_unknown_zone_falls_back_to_utc():
    scope = now_scope(NOW, "Mars/Olympus")
    assert scope["timezone"] == "UTC"
    assert scope["weekday"] == "wednesday"
    assert scope["hour"] == 14


def test_rules_on_now_scope():
    assert check("now.weekday", "in", ["monday", "wednesday"])
    assert check("now.hour", "gte", 9)


# ---------------------------------------------------------------- schemas


def test_schemas_are_valid_json_schema():
    for schema in (RULE_SCHEMA, RULES_SCHEMA, DURATION_SCHEMA):
        Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("candidate", "valid"),
    [
        ({"field": "contact.email", "op": "exists"}, True),
        ({"field": "contact.email", "op": "eq", "value": "x"}, True),
        ({"field": "contact.email", "op": "eq"}, False),  # eq needs a value
        ({"field": "", "op": "exists"}, False),
        ({"field": "a", "op": "like", "value": 1}, False),
        ({"field": "a", "op": "within_last", "value": {"amount": 2, "unit": "days"}}, True),
        ({"field": "a", "op": "within_last", "value": {"amount": 2, "unit": "years"}}, False),
        ({"field": "a", "op": "in", "value": ["x"]}, True),
        ({"field": "a", "op": "in", "value": 3}, False),
        ({"field": "a", "op": "exists", "extra": 1}, False),
    ],
)
def test_rule_schema(candidate, valid):
    errors = list(Draft202012Validator(RULE_SCHEMA).iter_errors(candidate))
    assert (not errors) is valid, errors


def test_to_timedelta():
    assert to_timedelta(2, "days") == timedelta(days=2)
    assert to_timedelta(1.5, "hours") == timedelta(minutes=90)
    assert to_timedelta(1, "weeks") == timedelta(days=7)
    with pytest.raises(ValueError):
        to_timedelta(1, "fortnights")
