from collections import Counter

from jsonschema import Draft202012Validator

from automation.nodes import conditions
from automation.nodes.conditions import IfCondition, SplitCondition, SwitchCondition
from tests.automation.node_helpers import config_errors, make_contact, make_ctx

PRO = {"field": "contact.properties.plan", "op": "eq", "value": "pro"}
FREE = {"field": "contact.properties.plan", "op": "eq", "value": "free"}


def test_catalogue_entries():
    for node in conditions.NODE_TYPES:
        assert node.category == "condition"
        assert node.branching
        Draft202012Validator.check_schema(node.config_schema)
    assert IfCondition.handles == ("yes", "no")
    assert SwitchCondition.handles == ("default",)
    assert SwitchCondition.handles_from == "cases[].handle"
    assert SplitCondition.handles == ("a", "b")
    assert SplitCondition.handles_from == "branches[].handle"


# ---------------------------------------------------------------- if


def test_if_takes_yes_or_no():
    ctx = make_ctx({"match": "all", "rules": [PRO]})
    result = IfCondition().run(ctx)
    assert (result.handle, result.output) == ("yes", {"matched": True})
    result = IfCondition().run(make_ctx({"match": "all", "rules": [PRO, FREE]}))
    assert (result.handle, result.output) == ("no", {"matched": False})
    assert IfCondition().run(make_ctx({"match": "any", "rules": [PRO, FREE]})).handle == "yes"


def test_if_sees_earlier_steps_event_and_time():
    ctx = make_ctx(
        {
            "rules": [
                {"field": "steps.wait1.event.data.total", "op": "gt", "value": 100},
                {"field": "event.type", "op": "eq", "value": "cart_created"},
                {"field": "now.weekday", "op": "eq", "value": "wednesday"},
            ]
        },
        event={"type": "cart_created", "data": {}},
        steps={"wait1": {"event": {"data": {"total": 120}}}},
    )
    assert IfCondition().run(ctx).handle == "yes"


def test_if_uses_the_contacts_time_zone_for_now():
    # NOW is Wednesday 14:30 UTC, which is already Thursday in Auckland.
    rule = {"field": "now.weekday", "op": "eq", "value": "thursday"}
    ctx = make_ctx({"rules": [rule]}, contact=make_contact(time_zone="Pacific/Auckland"))
    assert IfCondition().run(ctx).handle == "yes"


def test_if_config_errors_name_the_field():
    errors = config_errors(IfCondition, {"match": "all", "rules": [{"field": "x", "op": "nope"}]})
    assert "rules.0.op" in errors
    assert "match" in config_errors(IfCondition, {"match": "some", "rules": []})


# ---------------------------------------------------------------- switch


SWITCH = {
    "cases": [
        {"handle": "free", "label": "Free plan", "rules": [FREE]},
        {"handle": "pro", "rules": [PRO]},
        {"handle": "also-pro", "rules": [PRO]},
    ]
}


def test_switch_first_matching_case_wins():
    result = SwitchCondition().run(make_ctx(SWITCH))
    assert (result.handle, result.output) == ("pro", {"case": "pro"})


def test_switch_falls_back_to_default():
    ctx = make_ctx(SWITCH, contact=make_contact(properties={"plan": "team"}))
    assert SwitchCondition().run(ctx).handle == "default"


def test_switch_handles_come_from_cases():
    assert SwitchCondition.output_handles(SWITCH) == ["free", "pro", "also-pro", "default"]


def test_switch_config():
    assert config_errors(SwitchCondition, SWITCH) == {}
    assert "cases" in config_errors(SwitchCondition, {"cases": []})
    dup = {"cases": [{"handle": "x", "rules": []}, {"handle": "x", "rules": []}]}
    assert "cases.1.handle" in config_errors(SwitchCondition, dup)
    reserved = {"cases": [{"handle": "default", "rules": []}]}
    assert "reserved" in config_errors(SwitchCondition, reserved)["cases.0.handle"]
    bad = {"cases": [{"handle": "Big Spenders", "rules": []}]}
    assert "cases.0.handle" in config_errors(SwitchCondition, bad)


# ---------------------------------------------------------------- split


SPLIT = {"branches": [{"handle": "a", "percent": 50}, {"handle": "b", "percent": 50}]}


def test_split_is_deterministic_per_run_and_node():
    # A retried or redelivered step must choose the same branch.
    first = SplitCondition().run(make_ctx(SPLIT, run_id="run-7", node_id="ab"))
    again = SplitCondition().run(make_ctx(SPLIT, run_id="run-7", node_id="ab"))
    assert first.output == again.output
    assert first.handle == first.output["branch"]
    assert 0 <= first.output["bucket"] < 10000


def test_split_follows_the_percentages():
    config = {
        "branches": [
            {"handle": "a", "percent": 70},
            {"handle": "b", "percent": 20},
            {"handle": "c", "percent": 10},
        ]
    }
    counts = Counter(
        SplitCondition().run(make_ctx(config, run_id=f"run-{n}", node_id="ab")).handle
        for n in range(4000)
    )
    assert abs(counts["a"] / 4000 - 0.7) < 0.03
    assert abs(counts["b"] / 4000 - 0.2) < 0.03
    assert abs(counts["c"] / 4000 - 0.1) < 0.03


def test_split_handles_and_config():
    assert SplitCondition.output_handles(SPLIT) == ["a", "b"]
    assert config_errors(SplitCondition, SPLIT) == {}
    thirds = {"branches": [{"handle": h, "percent": 100 / 3} for h in ("a", "b", "c")]}
    assert config_errors(SplitCondition, thirds) == {}
    short = {"branches": [{"handle": "a", "percent": 50}, {"handle": "b", "percent": 40}]}
    assert "add up to 90" in config_errors(SplitCondition, short)["branches"]
    dup = {"branches": [{"handle": "a", "percent": 50}, {"handle": "a", "percent": 50}]}
    assert "branches.1.handle" in config_errors(SplitCondition, dup)
    one = {"branches": [{"handle": "a", "percent": 100}]}
    assert "branches" in config_errors(SplitCondition, one)
    zero = {"branches": [{"handle": "a", "percent": 100}, {"handle": "b", "percent": 0}]}
    assert "branches.1.percent" in config_errors(SplitCondition, zero)
