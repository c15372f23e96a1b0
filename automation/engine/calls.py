"""Outside calls: a node that reaches outside (email, webhook) runs with no
transaction and no row lock held, between two chunks (see loop.advance_run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from .. import template_budget
from ..nodes.base import NodeContext, NodeResult, NodeType
from .outcome import NOT_THE_RUNS_FAULT


@dataclass
class OutsideCall:
    """A node that reaches outside, ready to run with no lock held."""

    step_id: int
    attempt: int
    implementation: NodeType
    ctx: NodeContext

    def make(self) -> CallAnswer:
        started = timezone.now()
        try:
            with template_budget.shared():  # one budget for all the step's templates
                result = self.implementation.run(self.ctx)
            return CallAnswer(self.step_id, self.attempt, started, result)
        except NOT_THE_RUNS_FAULT:
            raise
        except Exception as error:
            return CallAnswer(self.step_id, self.attempt, started, error=error)


@dataclass
class CallAnswer:
    step_id: int
    attempt: int
    started: Any
    result: NodeResult | None = None
    error: Exception | None = None
