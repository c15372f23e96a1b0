import pytest

from automation.nodes.base import PermanentNodeError
from automation.templating import (
    TemplateRenderError,
    render,
    render_field,
    render_value,
    template_error,
)

DATA = {
    "contact": {
        "email": "ada@example.com",
        "tags": ["customer"],
        "time_zone": "Europe/Paris",
        "properties": {
            "first_name": "Ada",
            "email": "spoof@example.com",
            "time_zone": "Mars/Base",
            "score": 3,
        },
    },
    "event": {"type": "cart_created", "data": {"items": [{"sku": "A1"}], "total": 59.9}},
    "steps": {},
}


def test_contact_properties_are_reachable_at_the_top_of_contact():
    assert render("Hi {{ contact.first_name }}", DATA) == "Hi Ada"
    assert render("Hi {{ contact.properties.first_name }}", DATA) == "Hi Ada"


def test_contact_fields_win_over_properties_of_the_same_name():
    assert render("{{ contact.email }} {{ contact.time_zone }}", DATA) == (
        "ada@example.com Europe/Paris"
    )


def test_unknown_names_render_empty_even_when_chained():
    assert render("Hi {{ contact.nickname }}!", DATA) == "Hi !"
    assert render("{{ event.data.coupon.code }}", DATA) == ""
    assert render("{{ contact.nickname | default('there') }}", DATA) == "there"


def test_a_mapping_key_wins_over_a_dict_method():
    # A cart event's `items` is the cart's items, not dict.items.
    assert render("{{ event.data.items[0].sku }}", DATA) == "A1"


def test_plain_text_is_not_escaped_and_trailing_newline_is_kept():
    assert render("<b>{{ contact.first_name }} & co</b>\n", DATA) == "<b>Ada & co</b>\n"


@pytest.mark.parametrize(
    "attack",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ contact.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(contact) }}",
        "{{ 'x' * 1000000000 }}",
        "{{ 2 ** 100000000 }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ 'x' | center(1000000000) }}",
        "{{ '%1000000000s' | format('x') }}",
        "{{ '{:>1000000000}'.format('x') }}",
        "{{ '{:>1000000000}'['format']('x') }}",
    ],
)
def test_sandbox_refuses_to_reach_python_internals(attack):
    with pytest.raises(TemplateRenderError) as caught:
        render(attack, DATA)
    # A template problem is permanent: retrying cannot fix it.
    assert isinstance(caught.value, PermanentNodeError)


def test_ordinary_padding_and_formatting_still_work():
    assert render("{{ '%05.1f' | format(event.data.total) }}", DATA) == "059.9"
    assert render("{{ 'Order {} of {}'.format(1000000, 2) }}", DATA) == "Order 1000000 of 2"
    assert render("[{{ contact.first_name | center(7) }}]", DATA) == "[  Ada  ]"


def test_runtime_errors_become_template_render_errors():
    with pytest.raises(TemplateRenderError, match="ZeroDivisionError"):
        render("{{ 1 / 0 }}", DATA)


def test_syntax_errors_are_reported_with_their_line():
    assert template_error("Hi {{ contact.first_name }}") is None
    assert template_error("no template at all") is None
    message = template_error("line one\nHi {{ contact.first_name }")
    assert message is not None
    assert message.startswith("line 2:")
    assert template_error("{{ x | no_such_filter }}").startswith("line 1:")
    with pytest.raises(TemplateRenderError, match="line 1"):
        render("{% if %}", DATA)


def test_render_value_recurses_and_leaves_non_strings_alone():
    value = {
        "name": "{{ contact.first_name }}",
        "score": 3,
        "flags": [True, "{{ event.type }}", None],
        "nested": {"total": "{{ event.data.total }}"},
    }
    assert render_value(value, DATA) == {
        "name": "Ada",
        "score": 3,
        "flags": [True, "cart_created", None],
        "nested": {"total": "59.9"},
    }


def test_render_field_names_the_field_in_errors():
    with pytest.raises(TemplateRenderError, match=r"^subject: line 1"):
        render_field("subject", "{{ oops", DATA)
