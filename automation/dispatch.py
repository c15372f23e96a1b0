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


def _send(run_ids: list[str]) -> None:
    if settings.CAIRN_EXECUTION == "celery":
        from .tasks import advance_run_task

        for run_id in run_ids:
            advance_run_task.delay(run_id)
    else:
        from . import embedded

        embedded.submit(run_ids)
