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

Budget: each rendering of a field may repeat loops, write text and use CPU
time only up to TEMPLATE_MAX_ITERATIONS, TEMPLATE_MAX_OUTPUT and
TEMPLATE_MAX_SECONDS (automation/template_budget.py). Going over is a
TemplateBudgetError ("This template repeats too many times (over 10,000):
simplify the loop in Subject"): permanent, so the step fails at once, with
no retry (the same template would go over again). A Celery soft time limit
that strikes while a template renders is not the template's fault and is
never turned into a render error: it goes on up to the task (the engine
treats it as transient).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache, wraps
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError, nodes, pass_eval_context
from jinja2.runtime import LoopContext
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from automation import template_budget as budget
from automation.nodes.base import ConfigIssue, PermanentNodeError

# Caps on what one template may build: `{{ 'x' * 10**9 }}` must not eat the worker.
MAX_SEQUENCE_LENGTH = 100_000
MAX_POWER_EXPONENT = 100


# What stops the work rather than fails the template: the task's soft time
# limit (billiard raises it in the middle of whatever runs). Never caught here.
INTERRUPTS: tuple[type[BaseException], ...] = (SoftTimeLimitExceeded,)


class TemplateRenderError(PermanentNodeError):
    """A template could not be rendered (syntax, unsafe access, runtime error)."""


class TemplateBudgetError(TemplateRenderError):
    """A template went over its budget (loops, text, time): permanent, the step fails."""

    def __init__(self, problem: str, advice: str) -> None:
        self.problem = problem
        self.advice = advice
        super().__init__(f"This template {problem}: {advice}")

    def in_field(self, field: str) -> TemplateBudgetError:
        return TemplateBudgetError(self.problem, f"{self.advice} in {field_label(field)}")


def field_label(field: str) -> str:
    """A config field as a marketer reads it: "subject" is Subject,
    "headers.X-Token" is Headers (X-Token)."""
    name, _, rest = field.partition(".")
    label = name.replace("_", " ").capitalize()
    return f"{label} ({rest})" if rest else label


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
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Every loop pays for its iterations (automation/template_budget.py).
        return budget.add_loop_counters(super()._parse(source, name, filename))

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
        spending = budget.current()
        if spending is not None:
            spending.check_time()  # a macro calling itself twice loops without a loop
        if isinstance(__obj, LoopContext) and args:
            # `loop(children)` in a recursive loop: each item counts as an iteration.
            args = (budget.counting(args[0]), *args[1:])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name in _WIDTH_METHODS:
                _check_widths([*args, *kwargs.values()])
            elif name == "join" and args:
                budget.check_join(owner, args[0])
            elif name == "replace" and len(args) >= 2:
                budget.check_replace(owner, *args[:3])
        result = super().call(__context, __obj, *args, **kwargs)
        if spending is not None and isinstance(result, str | list | tuple):
            spending.check_size(len(result))
        return result

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_SEQUENCE_LENGTH
                ):
                    raise SecurityError("the result of this multiplication is too large")
                if isinstance(seq, list | tuple) and isinstance(times, int) and times > 1:
                    # [big_list] * 9999: what the copies hold counts, not their number.
                    budget.check_size_of_repeat(seq, times)
            return operator.mul(left, right)
        if op == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                budget.check_weight((left, right))
            return operator.add(left, right)
        if op == "%":
            if isinstance(left, str):
                _check_format_string(left)
                budget.check_weight(right)
                result = operator.mod(left, right)
                budget.check_weight(result)
                return result
            return operator.mod(left, right)
        if op == "**":
            if isinstance(right, int | float) and abs(right) > MAX_POWER_EXPONENT:
                raise SecurityError("this exponent is too large")
            return operator.pow(left, right)
        return super().call_binop(context, op, left, right)


def _join_guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)
    def guarded(context: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        if attribute is None and isinstance(d, str):
            value = list(value) if not isinstance(value, str) else value
            budget.check_join(d, value)
        return function(context, value, d, attribute)

    return guarded


def _replace_guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)
    def guarded(context: Any, s: Any, old: Any, new: Any, count: Any = None) -> Any:
        budget.check_replace(s, old, new, count)
        return function(context, s, old, new, count)

    return guarded


def _indent_guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)
    def guarded(s: Any, width: Any = 4, *args: Any, **kwargs: Any) -> Any:
        if isinstance(s, str) and isinstance(width, int | str):
            prefix = len(width) if isinstance(width, str) else width
            spending = budget.current()
            if spending is not None:
                spending.check_size(len(s) + (s.count("\n") + 1) * max(0, prefix))
        return function(s, width, *args, **kwargs)

    return guarded


_env = _Environment(
    autoescape=False,
    undefined=ChainableUndefined,
    keep_trailing_newline=True,
    finalize=budget.finalize,
)
for _name in ("center", "indent"):
    _env.filters[_name] = _width_guarded(_env.filters[_name])
_env.filters["indent"] = _indent_guarded(_env.filters["indent"])
_env.filters["format"] = _format_guarded(_env.filters["format"])
_env.filters["join"] = pass_eval_context(_join_guarded(_env.filters["join"]))
_env.filters["replace"] = pass_eval_context(_replace_guarded(_env.filters["replace"]))
_env.filters[budget.LOOP_FILTER] = budget.counted_loop
_env.filters[budget.CONCAT_FILTER] = budget.counted_concat
_env.globals["range"] = budget.capped_range
# Lorem ipsum of any length, built in one call no loop counts: not for marketers' text.
del _env.globals["lipsum"]


@lru_cache(maxsize=1024)
def _compile(template: str) -> Any:
    return _env.from_string(template)


def _syntax_message(error: TemplateSyntaxError) -> str:
    return f"line {error.lineno}: {error.message}"


def template_error(template: Any) -> str | None:
    """The syntax error of a template ("line 1: unexpected '}'"), or a loop over
    a literal range sure to go over the budget, or None when it is fine."""
    if not isinstance(template, str) or "{" not in template:
        return None
    try:
        _compile(template)
    except TemplateSyntaxError as error:
        return _syntax_message(error)
    problems = budget.literal_loop_problems(_env.parse(template), settings.TEMPLATE_MAX_ITERATIONS)
    return problems[0] if problems else None


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
    spending = budget.current()
    try:
        if spending is None:
            with budget.budgeted(budget.Budget.from_settings()) as spending:
                return _generate(compiled, scope, spending)
        return _generate(compiled, scope, spending)
    except INTERRUPTS:
        raise
    except budget.BudgetExceeded as error:
        raise TemplateBudgetError(error.problem, error.advice) from None
    except SecurityError as error:
        raise TemplateRenderError(f"the template tried something not allowed: {error}") from error
    except TemplateError as error:
        raise TemplateRenderError(f"the template could not be rendered: {error}") from error
    except Exception as error:  # a user's expression failing (1/0, 'a' + 1)
        raise TemplateRenderError(
            f"the template could not be rendered: {type(error).__name__}: {error}"
        ) from error


def _generate(compiled: Any, scope: Mapping[str, Any], spending: budget.Budget) -> str:
    """The rendered text, piece by piece, stopped as soon as it is too long."""
    pieces: list[str] = []
    length = 0
    for piece in compiled.generate(scope):
        length += len(piece)
        spending.check_size(length)
        pieces.append(piece)
    return "".join(pieces)


def render(template: str, data: Mapping[str, Any]) -> str:
    """Render one template string against the run's data, under one budget (the
    step's, when the engine opened one)."""
    with budget.shared():
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
    """Render every string inside value (dicts and lists recursively); other
    values as they are. All of value's strings share one budget (the step's,
    when the engine opened one)."""
    with budget.shared():
        return _render_value_in_scope(value, template_scope(data))


def render_field(field: str, value: Any, data: Mapping[str, Any]) -> Any:
    """render_value, with the config field named in the error ("subject: line 1: ...",
    "This template repeats too many times (over 10,000): simplify the loop in Subject")."""
    try:
        return render_value(value, data)
    except TemplateBudgetError as error:
        raise error.in_field(field) from None
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
