"""Hand runs to whatever executes them, only once the rows they need are committed.

A job that reaches a worker before its row is committed finds nothing, so
every hand-off goes through `transaction.on_commit`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction


def enqueue_runs(run_ids: Iterable) -> None:
    ids = [str(run_id) for run_id in run_ids]
    if ids:
        transaction.on_commit(lambda: _send(ids))


# Runs per Celery message. A batch of events that enrols hundreds of contacts
# becomes tens of messages, spread over the workers; sending one message per
# run cost more than ingesting the events.
RUNS_PER_MESSAGE = 10


def _send(run_ids: list[str]) -> None:
    if settings.CAIRN_EXECUTION == "celery":
        from .tasks import advance_runs_task

        for start in range(0, len(run_ids), RUNS_PER_MESSAGE):
            advance_runs_task.delay(run_ids[start : start + RUNS_PER_MESSAGE])
    else:
        from . import embedded

        embedded.submit(run_ids)


def enqueue_workflow_cleanup(workflow_id) -> None:
    """After commit, have the executor cancel an archived workflow's runs in pages."""
    workflow_id = str(workflow_id)
    transaction.on_commit(lambda: _send_cleanup(workflow_id))


def _send_cleanup(workflow_id: str) -> None:
    if settings.CAIRN_EXECUTION == "celery":
        from celery import current_app

        current_app.send_task("automation.cancel_workflow_runs", args=[workflow_id])
    else:
        from . import embedded

        embedded.submit_cleanup(workflow_id)
