"""Templates render under a budget: loop iterations, text written, CPU time.

Invariant (DESIGN.md, "Tenancy"): a workspace's template is untrusted work;
whatever it asks for, a rendering ends within TEMPLATE_MAX_SECONDS of CPU,
TEMPLATE_MAX_ITERATIONS loop iterations and TEMPLATE_MAX_OUTPUT characters,
and going over is a permanent step error in a marketer's words that names
the field. Ordinary templates (loops over a cart, macros, joins) still work.
"""

from __future__ import annotations

import pytest

from automation.nodes.base import PermanentNodeError
from automation.templating import (
    TemplateBudgetError,
    TemplateRenderError,
    render,
    render_field,
    template_error,
)

DATA = {
    "contact": {"email": "ada@example.com", "properties": {"first_name": "Ada"}},
    "event": {"data": {"items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}]}},
}

NESTED_RANGES = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"


def test_the_issue_s_nested_loops_fail_at_once_with_a_message_naming_the_field():
    with pytest.raises(TemplateBudgetError) as caught:
        render_field("subject", NESTED_RANGES, DATA)
    assert str(caught.value) == (
        "This template repeats too many times (over 10,000): simplify the loop in Subject"
    )
    # Permanent: the same template would go over again, so no retry.
    assert isinstance(caught.value, PermanentNodeError)


@pytest.mark.parametrize(
    "template",
    [
        # Each range is allowed; together they repeat 99,980,001 times.
        "{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}",
        # A recursive loop counts its recursive calls too.
        "{% for x in [1, 2] recursive %}{% if loop.depth < 3 %}{{ loop(range(200)) }}"
        "{% endif %}{% endfor %}",
        "{% for x in range(6000) %}{% endfor %}{% for y in range(6000) %}{% endfor %}",
    ],
)
def test_loops_count_every_iteration_of_the_whole_template(template):
    with pytest.raises(TemplateBudgetError, match="repeats too many times"):
        render(template, DATA)


@pytest.mark.parametrize(
    "template",
    [
        # Doubling a string 40 times: a terabyte, built by `~`, `+` or `%`.
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = '%s%s' % (ns.s, ns.s) %}{% endfor %}{{ ns.s|length }}",
        # 9,999 copies of a 9,999-item list, and its text.
        "{% set l = range(9999)|list %}{{ ([l] * 9999)|length }}",
        "{{ range(9999)|join(range(9999)|join) }}",
        "{{ ('x' * 99999)|replace('', 'yyyyyy') }}",
        "{{ ('x' * 99999).replace('', 'yyyyyy') }}",
        "{{ ','.join(['x' * 50000, 'x' * 50000, 'x' * 50000]) }}",
        # A loop body's literal text counts each time round, in a set block too.
        "{% set x %}{% for i in range(9999) %}" + "y" * 1000 + "{% endfor %}{% endset %}.",
        "{% for i in range(9999) %}{{ 'x' * 99 }}{% endfor %}",
    ],
)
def test_text_over_the_budget_is_refused_before_it_is_built(template):
    with pytest.raises(TemplateBudgetError, match="writes too much text"):
        render(template, DATA)


def test_cpu_time_is_capped_where_loops_and_calls_stay_under_their_count(settings):
    settings.TEMPLATE_MAX_SECONDS = 0.05
    with pytest.raises(TemplateBudgetError) as caught:
        render_field(
            "body",
            "{% for a in range(9000) %}{{ (range(9999)|sum) and '' }}{% endfor %}",
            DATA,
        )
    assert str(caught.value) == (
        "This template takes too long to fill in (over 0.05 seconds): simplify the template in Body"
    )


def test_a_macro_that_calls_itself_twice_ends(settings):
    settings.TEMPLATE_MAX_SECONDS = 0.05
    with pytest.raises(TemplateRenderError):
        render("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}", DATA)


def test_the_budgets_are_settings(settings):
    settings.TEMPLATE_MAX_ITERATIONS = 3
    with pytest.raises(TemplateBudgetError, match=r"over 3\)"):
        render("{% for i in event.data['items'] * 2 %}{{ i.sku }}{% endfor %}", DATA)
    settings.TEMPLATE_MAX_ITERATIONS = 10_000
    settings.TEMPLATE_MAX_OUTPUT = 10
    with pytest.raises(TemplateBudgetError, match=r"over 10 characters"):
        render("Hello {{ contact.first_name }}, welcome", DATA)


def test_ordinary_templates_still_render():
    cart = (
        "{% for item in event.data['items'] %}{{ loop.index }}/{{ loop.length }} "
        "{{ item.sku }} x{{ item.qty }}{% if not loop.last %}, {% endif %}{% endfor %}"
    )
    assert render(cart, DATA) == "1/2 A1 x2, 2/2 B2 x1"
    assert render("{% for i in [] %}x{% else %}empty{% endfor %}", DATA) == "empty"
    assert render("{% for i in range(5) if i is odd %}{{ i }}{% endfor %}", DATA) == "13"
    assert render("{{ 'a' ~ 'b' ~ contact.first_name }}", DATA) == "abAda"
    assert render("{{ [1, 2] + [3] }} {{ 1 + 2 }} {{ '%d%%' % 5 }}", DATA) == "[1, 2, 3] 3 5%"
    assert render("{{ ['a', 'b']|join(', ') }} {{ 'a-b'.replace('-', '+') }}", DATA) == ("a, b a+b")
    macro = "{% macro hi(n) %}Hi {{ n }}{% endmacro %}{{ hi(contact.first_name) }}"
    assert render(macro, DATA) == "Hi Ada"
    tree = "{% for x in [[1, [2]], 3] recursive %}{% if x is iterable %}{{ loop(x) }}"
    tree += "{% else %}{{ x }}{% endif %}{% endfor %}"
    assert render(tree, DATA) == "123"
    # Up to the budget is fine: 10,000 iterations.
    assert len(render("{% for i in range(10000) %}.{% endfor %}", DATA)) == 10_000


def test_validation_points_out_literal_loops_sure_to_go_over():
    assert template_error(NESTED_RANGES) == (
        "line 1: this loop repeats 99,999 times, over the 10,000 a template may"
    )
    nested = "{% for a in range(200) %}\n{% for b in range(100) %}{% endfor %}{% endfor %}"
    assert template_error(nested) == (
        "line 2: this loop repeats 20,000 times, over the 10,000 a template may"
    )
    assert template_error("{% for a in range(100) %}{{ a }}{% endfor %}") is None
    # Loops over data cannot be judged before they run: the budget decides.
    assert template_error("{% for a in range(contact.n) %}{% endfor %}") is None
