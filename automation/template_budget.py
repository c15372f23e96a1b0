"""What one rendering of a marketer's template may cost: loop iterations, text
written and CPU time (settings TEMPLATE_MAX_ITERATIONS, TEMPLATE_MAX_OUTPUT,
TEMPLATE_MAX_SECONDS).

A template is a workspace's untrusted code. Jinja2's sandbox keeps it away
from Python's internals but not from the CPU: two nested `range(99999)` loops
pass the sandbox and keep a worker (or, embedded, the web process) busy for
hours, delaying every other workspace. So each rendering carries a `Budget`
(a context variable, one per rendering): every loop iteration, call and
`{{ … }}` written spends from it, and going over raises `BudgetExceeded`,
which the templating module turns into a step error the marketer can act on.

How the template pays:

- loops: `add_loop_counters` rewrites each `{% for %}` of the parsed template
  so its iterable goes through `counted_loop`, which spends one iteration,
  and the literal text of the loop's body, per item; `range()` refuses
  ranges longer than the whole budget at once;
- text: every `{{ … }}` value is measured before it becomes text (`weight`,
  so a list of huge lists is refused before `str()` builds it), and joins,
  concatenations, `+`, `%` and replacements are estimated before they run;
- time: CPU time of the rendering thread, checked at every iteration and
  call, so a loaded machine does not fail a template other processes slowed
  down, and a template cannot hide its cost in a loop body.

The budget is what guarantees a template ends; validation (`literal_loop_
problems`) only points out, at save time, the loops that are sure to go over.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from jinja2 import nodes
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

LOOP_FILTER = "_cairn_counted_loop"
CONCAT_FILTER = "_cairn_counted_concat"


class BudgetExceeded(Exception):
    """A rendering went over its budget. `problem` says what, in a marketer's
    words ("repeats too many times (over 10,000)"), `advice` what to change."""

    def __init__(self, problem: str, advice: str) -> None:
        self.problem = problem
        self.advice = advice
        super().__init__(f"This template {problem}: {advice}")


@dataclass
class Budget:
    max_iterations: int
    max_chars: int
    max_seconds: float
    iterations: int = 0
    written: int = 0
    started: float = field(default_factory=time.thread_time)

    @classmethod
    def from_settings(cls) -> Budget:
        return cls(
            max_iterations=settings.TEMPLATE_MAX_ITERATIONS,
            max_chars=settings.TEMPLATE_MAX_OUTPUT,
            max_seconds=settings.TEMPLATE_MAX_SECONDS,
        )

    def too_many_iterations(self) -> BudgetExceeded:
        return BudgetExceeded(
            f"repeats too many times (over {self.max_iterations:,})", "simplify the loop"
        )

    def too_much_text(self) -> BudgetExceeded:
        return BudgetExceeded(
            f"writes too much text (over {self.max_chars:,} characters)", "shorten the text"
        )

    def too_slow(self) -> BudgetExceeded:
        return BudgetExceeded(
            f"takes too long to fill in (over {self.max_seconds:g} seconds)",
            "simplify the template",
        )

    def spend(self, iterations: int = 0, chars: int = 0) -> None:
        self.iterations += iterations
        if self.iterations > self.max_iterations:
            raise self.too_many_iterations()
        self.write(chars)

    def write(self, chars: int) -> None:
        self.written += chars
        if self.written > self.max_chars:
            raise self.too_much_text()
        self.check_time()

    def check_size(self, chars: int) -> None:
        if chars > self.max_chars:
            raise self.too_much_text()

    def check_time(self) -> None:
        if time.thread_time() - self.started > self.max_seconds:
            raise self.too_slow()


_current: ContextVar[Budget | None] = ContextVar("cairn_template_budget", default=None)


@contextmanager
def budgeted(budget: Budget) -> Iterator[Budget]:
    """Render under `budget` (the templates rendered inside this block spend from it)."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def current() -> Budget | None:
    return _current.get()


@contextmanager
def shared() -> Iterator[Budget]:
    """The budget open now, or a new one for this block: the engine opens one
    around a step, so all the templates of one step (an email's subject,
    body and headers) share it instead of each having its own."""
    spending = current()
    if spending is not None:
        yield spending
        return
    with budgeted(Budget.from_settings()) as spending:
        yield spending


def weight(value: Any, limit: int) -> int:
    """About how many characters `value` becomes as text (strings count their
    length, containers their items and what is inside), counted only until it
    passes `limit`: at most `limit` steps however big the value is."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item) + 2
            stack.extend(item)
        elif isinstance(item, Mapping):
            total += len(item) + 2
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 1
    return total


def check_weight(value: Any) -> None:
    """Refuse a value that would become more text than a whole rendering may write."""
    budget = current()
    if budget is not None:
        budget.check_size(weight(value, budget.max_chars))


def check_size_of_repeat(items: list | tuple, times: int) -> None:
    """`items * times`, refused before it is built if the copies weigh too much."""
    budget = current()
    if budget is not None:
        budget.check_size(weight(items, budget.max_chars // times + 1) * times)


def text(value: Any) -> str:
    """`str(value)`, refused before it is built if it would be too long."""
    check_weight(value)
    return str(value)


def finalize(value: Any) -> str:
    """Every `{{ … }}` goes through here (Environment.finalize), in a macro or a
    `{% set %}` block too: its text counts where it is written."""
    result = text(value)
    budget = current()
    if budget is not None:
        budget.write(len(result))
    return result


@pass_context  # never folded at compile time: it must run under the rendering's budget
def counted_loop(_context: Any, iterable: Iterable[Any], chars_per_item: int = 0) -> Any:
    """A `{% for %}`'s iterable (see add_loop_counters): each item spends one
    iteration, and the literal text of the loop's body."""
    budget = current()
    if budget is None:
        return iterable
    return _counting(budget, iterable, chars_per_item)


def _counting(budget: Budget, iterable: Iterable[Any], chars_per_item: int) -> Iterator[Any]:
    for item in iterable:
        budget.spend(1, chars_per_item)
        yield item


def counting(iterable: Iterable[Any]) -> Any:
    """The same count for a recursive loop's `loop(children)` call."""
    budget = current()
    return iterable if budget is None else _counting(budget, iterable, 0)


@pass_context
def counted_concat(_context: Any, values: Iterable[Any]) -> str:
    """`a ~ b`: the pieces measured before they are joined."""
    pieces = [text(value) for value in values]
    budget = current()
    if budget is not None:
        budget.check_size(sum(len(piece) for piece in pieces))
    return "".join(pieces)


def capped_range(*args: int) -> range:
    """`range()` for templates: none longer than a rendering's whole loop budget."""
    numbers = range(*args)
    budget = current()
    if budget is not None and len(numbers) > budget.max_iterations:
        raise budget.too_many_iterations()
    return numbers


def check_join(separator: str, items: Any) -> None:
    budget = current()
    if budget is None or not isinstance(items, list | tuple):
        return
    budget.check_size(weight(items, budget.max_chars) + len(separator) * len(items))


def check_replace(value: Any, old: Any, new: Any, count: Any = None) -> None:
    budget = current()
    if budget is None or not all(isinstance(s, str) for s in (value, old, new)):
        return
    times = value.count(old)
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    budget.check_size(len(value) + times * max(0, len(new) - len(old)))


# ------------------------------------------------------------ the parsed template


def _literal_chars(body: list[nodes.Node]) -> int:
    """Characters of literal text a loop body writes each time round (both
    sides of an if counted; nested loops and macros pay for themselves)."""
    total = 0
    stack: list[nodes.Node] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        elif isinstance(node, nodes.For | nodes.Macro):
            continue
        else:
            stack.extend(node.iter_child_nodes())
    return total


class _Counters(NodeTransformer):
    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = nodes.Filter(
            node.iter,
            LOOP_FILTER,
            [nodes.Const(_literal_chars(node.body))],
            [],
            None,
            None,
            lineno=node.lineno,
        )
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Filter:
        self.generic_visit(node)
        pieces = nodes.Tuple(list(node.nodes), "load", lineno=node.lineno)
        return nodes.Filter(pieces, CONCAT_FILTER, [], [], None, None, lineno=node.lineno)


def add_loop_counters(template: nodes.Template) -> nodes.Template:
    """Make every loop of a parsed template pay for its iterations and every
    `~` measure what it joins (before the template is compiled)."""
    return _Counters().visit(template)


def _literal_range_length(node: nodes.Node) -> int | None:
    if isinstance(node, nodes.Filter) and node.name == LOOP_FILTER:
        node = node.node
    if not (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "range"
        and not node.kwargs
        and node.dyn_args is None
        and 1 <= len(node.args) <= 3
        and all(isinstance(a, nodes.Const) and type(a.value) is int for a in node.args)
    ):
        return None
    return len(range(*(a.value for a in node.args)))


def literal_loop_problems(template: nodes.Template, max_iterations: int) -> list[str]:
    """Loops over literal ranges that are sure to go over the budget ("line 1:
    this loop repeats 9,999,800,001 times, over the 10,000 a template may"),
    nested loops multiplied: what validation can see before anything runs."""
    problems: list[str] = []

    def visit(node: nodes.Node, times: int) -> None:
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.For):
                length = _literal_range_length(child.iter)
                inner = times * length if length is not None else times
                if length is not None and inner > max_iterations:
                    problems.append(
                        f"line {child.lineno}: this loop repeats {inner:,} times, "
                        f"over the {max_iterations:,} a template may"
                    )
                    continue
                visit(child, inner)
            else:
                visit(child, times)

    visit(template, 1)
    return problems
