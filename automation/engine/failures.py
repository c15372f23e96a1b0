"""Failures: a node that fails is retried with backoff and jitter, then fails
the run with its error kept; a chunk that breaks the same way every time (a
poison) fails the run on the visit that breaks."""

from __future__ import annotations

import random
import traceback
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import transitions
from ..graph import version_graph
from ..models import Run, RunStatus, Step, StepStatus
from ..nodes.base import NodeError, NodeType, PermanentNodeError
from .chunk import Chunk
from .outcome import Outcome, log
from .records import jsonable, new_visit, record


def fail_poisoned(run_id: Any, error: Exception) -> Outcome:
    """Fail a run whose chunk raised a non-transient error, keeping the error on a step.

    The chunk rolled back, so the visit that broke has no row yet unless it
    was a retry or a wait: write (or reuse) it as failed, so the run shows
    where and why, and `retry_run` resumes from it.
    """
    log.exception("run %s: a non-transient error; the run fails", run_id)
    with transaction.atomic():
        run = (
            Run.objects.select_for_update(of=("self",))
            .select_related("current_step")
            .filter(pk=run_id, status=RunStatus.RUNNING)
            .order_by()
            .first()
        )
        if run is None:
            return Outcome.NOT_RUNNING
        now = timezone.now()
        step = run.current_step
        if step is None:
            node = _graph_node(run)
            step = new_visit(run, run.current_node, str(node.get("type", ""))[:50], now)
        step.status = StepStatus.FAILED
        step.error = f"{type(error).__name__}: {error}"[:5000]
        step.traceback = "".join(traceback.format_exception(error))[-20000:]
        step.finished_at = now
        step.save()
        transitions.fail(run, f"{run.current_node}: {step.error}", step=step)
        transitions.save(run)
    return Outcome.FAILED


def _graph_node(run: Run) -> dict:
    try:
        return dict(version_graph(run.version_id).node(run.current_node) or {})
    except Exception:
        return {}


def node_failed(
    chunk: Chunk,
    node: dict,
    node_class: type[NodeType],
    step: Step | None,
    attempt: int,
    error: Exception,
    started,
) -> Outcome:
    run = chunk.run
    if step is None:
        step = new_visit(run, node["id"], node_class.type, started)
    step.attempt = attempt
    step.error = (
        f"{type(error).__name__}: {error}" if not isinstance(error, NodeError) else str(error)
    )
    step.traceback = "".join(traceback.format_exception(error))[-20000:]
    step.finished_at = timezone.now()
    if isinstance(error, NodeError) and error.output is not None:
        step.output = jsonable(error.output)  # e.g. the response of a 4xx, kept
    if isinstance(error, NodeError) and not error.counts_as_attempt:
        run.retry_floor += 1  # nothing was sent (circuit open): the wait costs no attempt
    attempts_this_round = attempt - run.retry_floor
    outside = node_class.reaches_outside((node.get("data") or {}).get("config") or {})
    if _retryable(outside, error) and attempts_this_round < settings.ACTION_MAX_ATTEMPTS:
        step.status = StepStatus.RETRYING
        record(chunk, step, now=True)
        delay = backoff_seconds(max(attempts_this_round, 1))
        retry_after = getattr(error, "retry_after", None)
        if retry_after:  # never before the time the service asked for
            delay = max(delay, min(float(retry_after), settings.ACTION_RETRY_MAX_SECONDS))
        transitions.park(
            run,
            step=step,
            resume_at=timezone.now() + timedelta(seconds=delay),
            error=f"{node['id']}: {step.error} (attempt {attempt}, retrying)",
        )
        log.info("run %s node %s failed, retrying: %s", run.pk, node["id"], step.error)
        return Outcome.WAITING
    step.status = StepStatus.FAILED
    record(chunk, step, now=True)
    transitions.fail(run, f"{node['id']}: {step.error}", step=step)
    log.warning("run %s failed at %s: %s", run.pk, node["id"], step.error)
    return Outcome.FAILED


def _retryable(outside: bool, error: Exception) -> bool:
    if isinstance(error, PermanentNodeError):
        return False
    if isinstance(error, NodeError):
        return True
    # An unexpected exception in a node that reaches outside may be transient;
    # in a pure node it would fail the same way again.
    return outside


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: half the delay fixed, half random."""
    delay = min(
        settings.ACTION_RETRY_MAX_SECONDS,
        settings.ACTION_RETRY_BASE_SECONDS * 2 ** (attempt - 1),
    )
    return delay / 2 + random.uniform(0, delay / 2)
