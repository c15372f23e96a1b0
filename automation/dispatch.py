"""Hand runs to whatever executes them, only once the rows they need are committed.

A job that reaches a worker before its row is committed finds nothing, so
every hand-off goes through `transaction.on_commit`.

The executor is a seam: CAIRN_EXECUTION names it ("celery": automation.tasks,
"embedded": automation.embedded), and this module reaches it by that name,
never by an import, so the engine and intake never depend on an executor.
Each executor module offers `submit(run_ids)` and `submit_cleanup(workflow_id)`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

EXECUTORS = {"celery": "automation.tasks", "embedded": "automation.embedded"}


def enqueue_runs(run_ids: Iterable) -> None:
    ids = [str(run_id) for run_id in run_ids]
    if ids:
        transaction.on_commit(lambda: _executor("submit")(ids))


def enqueue_workflow_cleanup(workflow_id) -> None:
    """After commit, have the executor cancel an archived workflow's runs in pages."""
    workflow_id = str(workflow_id)
    transaction.on_commit(lambda: _executor("submit_cleanup")(workflow_id))


def _executor(function: str):
    return import_string(f"{EXECUTORS[settings.CAIRN_EXECUTION]}.{function}")
