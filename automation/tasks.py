"""Celery tasks: ids in, a service call, nothing else."""

import logging

from celery import shared_task

from . import engine, schedules, timers

log = logging.getLogger("cairn.tasks")


@shared_task(name="automation.advance_run", acks_late=True, reject_on_worker_lost=True)
def advance_run_task(run_id: str) -> str:
    return engine.advance_run(run_id).value


@shared_task(name="automation.advance_runs", acks_late=True, reject_on_worker_lost=True)
def advance_runs_task(run_ids: list[str]) -> None:
    """Advance several runs. One run's unexpected error does not hold up the
    others: it stays `running` and the reaper re-queues it when its lease ends."""
    for run_id in run_ids:
        try:
            engine.advance_run(run_id)
        except Exception:
            log.exception("advancing run %s failed; the reaper will retry it", run_id)


@shared_task(name="automation.sweep_due_runs", ignore_result=True, expires=5)
def sweep_due_runs() -> int:
    return timers.sweep_due_runs()


@shared_task(name="automation.reap_stale_runs", ignore_result=True, expires=30)
def reap_stale_runs() -> int:
    return timers.reap_stale_runs()


@shared_task(name="automation.fire_schedules", ignore_result=True, expires=30)
def fire_schedules() -> int:
    return schedules.fire_due_schedules()


@shared_task(name="automation.check_inactivity", ignore_result=True, expires=600)
def check_inactivity() -> int:
    return schedules.enrol_inactive_contacts()
