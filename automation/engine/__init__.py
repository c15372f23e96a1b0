"""The engine, by job (automation/README.md draws how a run moves through it):

- `loop`: the run loop, `advance_run`, one chunk (one transaction) at a time;
- `batch`: several runs in one transaction (`advance_together`, `start_enrolled`);
- `calls`: outside calls, made with no lock held between two chunks;
- `records`: a visit's Step row and what watchers hear of it;
- `failures`: retries with backoff, failed runs, poison runs;
- `waits`: parking a run, events already arrived, exit criteria, quiet hours;
- `chunk` and `outcome`: what a chunk holds, and why a run stopped moving.
"""

from .batch import advance_together, start_enrolled
from .failures import backoff_seconds
from .loop import advance_run
from .outcome import NOT_THE_RUNS_FAULT, Outcome

__all__ = [
    "NOT_THE_RUNS_FAULT",
    "Outcome",
    "advance_run",
    "advance_together",
    "backoff_seconds",
    "start_enrolled",
]
