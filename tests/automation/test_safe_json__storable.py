"""safe_json.storable: every step output is made storable before it is written.

Invariant: whatever a node returns (an outside answer above all), the Step
row can be written on PostgreSQL and SQLite, and the output says what was
changed; what needs no change comes back equal.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from automation.safe_json import MAX_DEPTH, find_problem, storable


def test_what_needs_no_change_comes_back_equal_and_without_a_note():
    value = {"status": 200, "body": {"a": [1, 2.5, None, True, "é ✓"]}, "url": "https://x"}
    assert storable(value) == value


def test_nul_and_lone_surrogates_are_replaced_in_text_and_keys_and_said():
    clean = storable({"body": {"na\x00me": "a\x00b", "s": ["\ud800", "ok"]}})
    assert clean["body"] == {"na\ufffdme": "a\ufffdb", "s": ["\ufffd", "ok"]}
    note = clean["storage_note"]
    assert "body.na\ufffdme (its name)" in note
    assert "body.s[0]" in note
    assert find_problem(clean) is None


def test_numbers_a_json_column_cannot_hold_become_text():
    clean = storable({"n": float("nan"), "i": float("inf"), "ok": 1e300})
    assert (clean["n"], clean["i"], clean["ok"]) == ("nan", "inf", 1e300)
    assert "n: nan" in clean["storage_note"]


def test_containers_nested_too_deep_are_cut_without_recursion_errors():
    deep: list = []
    tip = deep
    for _ in range(5000):
        tip.append([])
        tip = tip[0]
    clean = storable({"deep": deep})
    assert find_problem(clean) is None
    assert "nested deeper than" in clean["storage_note"]
    json.dumps(clean)  # no RecursionError
    depth, node = 0, clean["deep"]
    while isinstance(node, list):
        node, depth = node[0], depth + 1
    assert depth == MAX_DEPTH - 1


def test_other_types_and_keys_become_text_as_json_dumps_wrote_them():
    when = datetime(2026, 1, 2, tzinfo=UTC)
    assert storable({2: when, True: (1, 2), None: {"x"}.pop()}) == {
        "2": str(when),
        "true": [1, 2],
        "null": "x",
    }


def test_too_long_an_output_is_kept_as_a_preview():
    clean = storable({"body": "x" * 1000}, max_bytes=200)
    assert clean == {"truncated": True, "preview": json.dumps({"body": "x" * 1000})[:100]}


@pytest.mark.django_db
def test_postgresql_takes_what_storable_gives():
    from django.db import connection

    value = storable({"body": "a\x00b", "k\ud800": {"v": "\udfff"}})
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb", [json.dumps(value)])
        stored = cursor.fetchone()[0]
    assert (json.loads(stored) if isinstance(stored, str) else stored) == value
