"""Validation points out, at save time, the template loops sure to go over their budget.

Invariant: a template whose loops over literal ranges repeat more than
TEMPLATE_MAX_ITERATIONS times (the issue's nested `range(99999)` loops) is a
problem on the canvas naming the node and the field, before anything runs;
loops over data pass validation and meet the runtime budget instead.
"""

from __future__ import annotations

from builder.validation import validate_graph
from tests.builder.graphs import chain, graph, node

NESTED = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"


def email_graph(subject: str) -> dict:
    return graph(
        [
            node("start", "trigger.event"),
            node("welcome", "action.email", {"subject": subject, "body": "Hi"}),
        ],
        chain("start", "welcome"),
    )


def test_the_issue_s_nested_loops_are_a_problem_on_the_email_subject():
    issues = validate_graph(email_graph(NESTED))
    assert [(i.code, i.node, i.field) for i in issues] == [
        ("invalid_config", "welcome", "config.subject")
    ]
    assert "this loop repeats 99,999 times, over the 10,000 a template may" in issues[0].message


def test_loops_over_data_and_small_literal_loops_pass():
    for subject in (
        "{% for a in range(contact.n) %}{{ a }}{% endfor %}",
        "{% for a in range(10) %}{% for b in range(100) %}.{% endfor %}{% endfor %}",
    ):
        assert validate_graph(email_graph(subject)) == []
