"""User text templates: `Hi {{ contact.first_name }}` in subjects, bodies, URLs.

Rendered by Jinja2's sandbox, so a marketer's template can read the run's
scope but never reach Python internals: an attempt raises SecurityError and
the step fails permanently with a TemplateRenderError. Unknown names render
as an empty string (`{{ contact.nickname }}` with no such property gives "").

Scope: the run's data (`contact`, `event`, `steps`, `engagement`, `now`), with
the contact's properties also reachable at the top of `contact`:
`{{ contact.first_name }}` is `{{ contact.properties.first_name }}`. The
contact's own fields (email, external_id, tags, time_zone, ...) win over a
property of the same name.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache, wraps
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from automation.nodes.base import ConfigIssue, PermanentNodeError

# Caps on what one template may build: `{{ 'x' * 10**9 }}` must not eat the worker.
MAX_SEQUENCE_LENGTH = 100_000
MAX_POWER_EXPONENT = 100


class TemplateRenderError(PermanentNodeError):
    """A template could not be rendered (syntax, unsafe access, runtime error)."""


# str methods and filters that pad to a width: `'x'.ljust(10**9)` would build 1 GB.
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_FORMAT_METHODS = frozenset({"format", "format_map"})
# A width or precision of six digits or more inside a %- or {}-format spec.
_BIG_FORMAT_WIDTH = re.compile(r"(%[^a-zA-Z%]*\d{6,})|(\{[^{}]*\d{6,}[^{}]*\})")


def _check_widths(values: Any) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_SEQUENCE_LENGTH:
            raise SecurityError(f"a width of {value} is too large")


def _check_format_string(text: Any) -> None:
    if isinstance(text, str) and _BIG_FORMAT_WIDTH.search(text):
        raise SecurityError("a width in this format string is too large")


def _width_guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_widths([*args[1:], *kwargs.values()])
        return function(*args, **kwargs)

    return guarded


def _format_guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)
    def guarded(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_format_string(value)
        return function(value, *args, **kwargs)

    return guarded


class _Environment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # A mapping's keys come before its methods: `{{ event.data.items }}` is
        # the cart's items, not dict.items.
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        if isinstance(obj, str) and attribute in _FORMAT_METHODS:
            # The sandbox wraps str.format itself; check the pattern before it runs.
            _check_format_string(obj)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, str) and argument in _FORMAT_METHODS:
            _check_format_string(obj)
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The stock sandbox returns an Undefined that only raises when used;
        # ChainableUndefined would swallow it. Refuse loudly instead.
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name in _WIDTH_METHODS:
                _check_widths([*args, *kwargs.values()])
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_SEQUENCE_LENGTH
                ):
                    raise SecurityError("the result of this multiplication is too large")
            return operator.mul(left, right)
        if op == "**":
            if isinstance(right, int | float) and abs(right) > MAX_POWER_EXPONENT:
                raise SecurityError("this exponent is too large")
            return operator.pow(left, right)
        return super().call_binop(context, op, left, right)


_env = _Environment(
    autoescape=False,
    undefined=ChainableUndefined,
    keep_trailing_newline=True,
)
for _name in ("center", "indent"):
    _env.filters[_name] = _width_guarded(_env.filters[_name])
_env.filters["format"] = _format_guarded(_env.filters["format"])


@lru_cache(maxsize=1024)
def _compile(template: str) -> Any:
    return _env.from_string(template)


def _syntax_message(error: TemplateSyntaxError) -> str:
    return f"line {error.lineno}: {error.message}"


def template_error(template: Any) -> str | None:
    """The syntax error of a template ("line 1: unexpected '}'"), or None when it is fine."""
    if not isinstance(template, str) or "{" not in template:
        return None
    try:
        _compile(template)
    except TemplateSyntaxError as error:
        return _syntax_message(error)
    return None


def template_scope(data: Mapping[str, Any]) -> dict[str, Any]:
    """The render scope: data as given, with contact properties lifted onto `contact`."""
    scope = dict(data)
    contact = data.get("contact")
    if isinstance(contact, Mapping):
        properties = contact.get("properties")
        if isinstance(properties, Mapping):
            scope["contact"] = {**properties, **contact}
    return scope


def _render_in_scope(template: str, scope: Mapping[str, Any]) -> str:
    if "{" not in template:
        return template
    try:
        compiled = _compile(template)
    except TemplateSyntaxError as error:
        raise TemplateRenderError(_syntax_message(error)) from error
    try:
        return compiled.render(scope)
    except SecurityError as error:
        raise TemplateRenderError(f"the template tried something not allowed: {error}") from error
    except TemplateError as error:
        raise TemplateRenderError(f"the template could not be rendered: {error}") from error
    except Exception as error:  # a user's expression failing (1/0, 'a' + 1)
        raise TemplateRenderError(
            f"the template could not be rendered: {type(error).__name__}: {error}"
        ) from error


def render(template: str, data: Mapping[str, Any]) -> str:
    """Render one template string against the run's data."""
    return _render_in_scope(template, template_scope(data))


def _render_value_in_scope(value: Any, scope: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _render_in_scope(value, scope)
    if isinstance(value, Mapping):
        return {key: _render_value_in_scope(item, scope) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render_value_in_scope(item, scope) for item in value]
    return value


def render_value(value: Any, data: Mapping[str, Any]) -> Any:
    """Render every string inside value (dicts and lists recursively); other values as they are."""
    return _render_value_in_scope(value, template_scope(data))


def render_field(field: str, value: Any, data: Mapping[str, Any]) -> Any:
    """render_value, with the config field named in the error ("subject: line 1: ...")."""
    try:
        return render_value(value, data)
    except TemplateRenderError as error:
        raise TemplateRenderError(f"{field}: {error}") from error


def value_template_errors(field: str, value: Any) -> list[tuple[str, str]]:
    """(field path, message) for every string inside value with a template syntax error."""
    if isinstance(value, str):
        message = template_error(value)
        return [(field, message)] if message else []
    if isinstance(value, Mapping):
        return [
            issue
            for key, item in value.items()
            for issue in value_template_errors(f"{field}.{key}", item)
        ]
    if isinstance(value, list | tuple):
        return [
            issue
            for index, item in enumerate(value)
            for issue in value_template_errors(f"{field}.{index}", item)
        ]
    return []


def template_issues(config: Mapping[str, Any], fields: tuple[str, ...]) -> list[ConfigIssue]:
    """A ConfigIssue (code "template") for each template syntax error in the named config fields."""
    return [
        ConfigIssue(field=path, message=message, code="template")
        for name in fields
        if name in config
        for path, message in value_template_errors(name, config[name])
    ]
