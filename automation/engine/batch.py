"""Batch start: several runs advanced in one transaction (a worker's message,
or the runs the event drain has just enrolled), as far as each goes
without an outside call."""

from __future__ import annotations

import time

from billiard.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from .. import transitions
from ..dispatch import by_priority, enqueue_runs
from ..enrolment import NewRun
from ..models import Contact, Run
from ..reconnect import reconnecting
from .chunk import Chunk
from .loop import chunk_of_locked_run, lock_runs
from .outcome import NODES_PER_CHUNK, NOT_THE_RUNS_FAULT, Outcome, log
from .records import publish_after_commit, write_chunks


def advance_together(run_ids: list[str]) -> dict[str, Outcome]:
    """Advance a message's runs as far as they go without an outside call, in one
    transaction: one lock query for the runs, one for their contacts, one insert
    of all their steps, one update of the contacts and one of the runs, one
    commit, instead of all of those per run.

    Returns the runs that are done for this message (waiting, ended, or no
    longer running). The others (a run another worker holds, one that reached
    an outside call or its chunk's node limit, a second run of one contact,
    previews) go on one by one with `advance_run`, and so do all of them if
    anything here fails: the transaction rolls back and nothing of it stays.
    """
    if len(run_ids) < 2:
        return {}
    try:
        return reconnecting(_advance_together, run_ids)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        log.warning("advancing %d runs together failed; one by one", len(run_ids), exc_info=True)
        return {}


DONE_FOR_THE_MESSAGE = {
    Outcome.WAITING,
    Outcome.COMPLETED,
    Outcome.FAILED,
    Outcome.EXITED,
    Outcome.HELD,
    Outcome.CANCELLED,
}


def _advance_together(run_ids: list[str]) -> dict[str, Outcome]:
    with transaction.atomic():
        outcomes = _advance_locked(_lock_with_contacts(run_ids))
    return {run_id: o for run_id, o in outcomes.items() if o in DONE_FOR_THE_MESSAGE}


def _lock_with_contacts(run_ids: list) -> list[Run]:
    """The running runs among these, and their contacts, locked, in the given order."""
    # In the message's order; runs are taken with SKIP LOCKED (never waited
    # for), contacts in id order (as event ingest takes them), so two
    # messages locking the same contacts cannot deadlock.
    position = {str(run_id): index for index, run_id in enumerate(run_ids)}
    runs = sorted(
        lock_runs(run_ids).filter(is_preview=False), key=lambda run: position[str(run.pk)]
    )
    contacts = {
        contact.pk: contact
        for contact in Contact.objects.select_for_update()
        .filter(pk__in={run.contact_id for run in runs})
        .order_by("pk")
    }
    for run in runs:
        run.contact = contacts[run.contact_id]
    return runs


def _advance_locked(
    runs: list[Run], deployments: dict | None = None, *, queue_the_rest: bool = False
) -> dict[str, Outcome]:
    """Run a chunk of each of these runs (the caller holds them and their
    contacts locked; one per contact, the others are left out) and write them
    all at once. `queue_the_rest`: the runs not done go to a queue, not on in
    this process, so they hold no lease."""
    outcomes: dict[str, Outcome] = {}
    chunks: list[Chunk] = []
    changed_runs: list[Run] = []
    seen: set = set()
    stop_at = time.monotonic() + TOGETHER_SECONDS
    for run in runs:
        if time.monotonic() > stop_at:
            break  # slow runs (a template near its budget): the rest go on one by one
        if run.contact_id in seen:
            continue  # one chunk per contact here: a second run goes on its own
        seen.add(run.contact_id)
        outcome, chunk, changed = chunk_of_locked_run(
            run,
            dry_run=False,
            nodes_per_chunk=NODES_PER_CHUNK,
            answer=None,
            calls=[],
            together=True,
            deployment=deployments.get(run.pk) if deployments else None,
        )
        outcomes[str(run.pk)] = outcome
        if chunk is not None:
            chunks.append(chunk)
        if queue_the_rest and outcome not in DONE_FOR_THE_MESSAGE:
            run.lease_until = None
            run.queued_at = timezone.now()
        if changed:
            changed_runs.append(run)
    write_chunks(chunks)
    transitions.save_all(changed_runs)
    for chunk in chunks:
        publish_after_commit(chunk)
    return outcomes


# Runs advanced together take new runs for this long; the others are left
# for one by one (a worker's message, which hands them back after its slice)
# or for the queue (the drain), so a workspace's slow runs never hold a
# worker process or the drain for long.
TOGETHER_SECONDS = 0.5


# Where the event drain starts the runs it enrols itself: the queues whose
# runs may take the drain's time (it runs on the high queue; low-priority
# work never does).
STARTED_BY_THE_DRAIN = ("high", "normal")


def start_enrolled(new_runs: list[NewRun], *, relock: bool = False) -> int:
    """Start runs this transaction has just enrolled, in it: as far as they go
    together without an outside call, as a worker's message would take them,
    but without the message, a second lock of the runs and their contacts, and
    a second commit. The caller holds their contacts locked (event ingest),
    or, with `relock`, they were enrolled by a transaction already committed
    and are locked here again (the event drain, automation/pending_events.py).

    Runs of low-priority workflows, a second run of one contact, and any run
    with more to do (an outside call, its chunk's node limit) are queued after
    commit as usual; so are all of them if starting them fails: that part
    rolls back alone and the enrolments stand. Returns how many it advanced.
    """
    if not new_runs:
        return 0
    by_id = {str(new.run.pk): new for new in new_runs}
    groups = by_priority(list(by_id))
    started = [
        by_id[run_id] for priority in STARTED_BY_THE_DRAIN for run_id in groups.get(priority, ())
    ]
    outcomes: dict[str, Outcome] = {}
    if started:
        try:
            with transaction.atomic():
                runs = [new.run for new in started]
                outcomes = _advance_locked(
                    _lock_with_contacts([run.pk for run in runs]) if relock else runs,
                    {new.run.pk: new.deployment for new in started},
                    queue_the_rest=True,
                )
        except NOT_THE_RUNS_FAULT:
            raise
        except Exception:
            log.warning("starting %d enrolled runs failed; queued", len(started), exc_info=True)
            outcomes = {}
    enqueue_runs(run_id for run_id in by_id if outcomes.get(run_id) not in DONE_FOR_THE_MESSAGE)
    return len(outcomes)
