"""Queued event intake: the request stores events, a task ingests them in batches.

With EVENT_INTAKE = "queued" (the production shape's default), POST
/api/v1/events does the minimum inside the request: one INSERT of the
validated events into `PendingEvent` (deduplicated by the sender's id against
pending and ingested events alike) and a 202. Nothing else happens in the
request: no contact lock, no trigger match, no run.

Right after, `automation.drain_events` (a Celery task, one message in flight
at a time through a Redis flag, and by beat every second as a safety net) ingests the
pending events with the same `ingest.ingest_events` the inline path uses, up
to EVENT_DRAIN_BATCH events per transaction, and deletes them in that same
transaction. So a thousand single requests cost about what one batch costs,
and:

- durability: the event is committed before the 202; a worker killed while
  draining rolls its transaction back and the rows stay pending for the next
  drain (a redelivered message, the next kick, or beat);
- order per contact: one drainer at a time (a PostgreSQL advisory lock held
  by each batch's transaction) takes each workspace's pending events in the
  order they were stored, so events a client sent one after the other are
  ingested in that order;
- fairness: a batch takes events round-robin across the workspaces that
  have some waiting, at most an equal share each (`fair_batch`), so one
  workspace's flood never delays another's event by more than a batch; and
  the runs a batch enrolled are started after it committed, with the lock
  released, each workspace's in a transaction of its own, and a workspace
  whose runs were slow to start has them queued, behind everyone else's,
  for a minute (`start_enrolled`, automation/tenancy.py): no tenant's
  templates run while holding what every tenant needs;
- dedupe: a pending row and an ingested event share the sender's id space:
  the INSERT skips an id still pending (unique constraint), and an id
  already ingested is answered as a duplicate and dropped by the drain.

The price is the answer's `enrolled`: the runs do not exist yet when the
request answers, so it is null (docs/api.md, "Events").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config import dependency_log
from config.redis_clients import redis_client

from . import engine, tenancy
from .contacts import ContactError, ContactRef, link_contact_refs
from .dispatch import enqueue_runs
from .enrolment import NewRun, holding_new_runs
from .ingest import IncomingEvent, IngestResult, ingest_events, retrying
from .models import Contact, Event, PendingEvent

log = logging.getLogger("cairn.intake")

# pg_advisory_xact_lock key of the one drainer ("cairn" + "drain" in spirit).
DRAIN_LOCK_KEY = 0x6361_6972_6E00_0001 & 0x7FFF_FFFF_FFFF_FFFF
# Redis flag: a drain is queued or draining; one drain message at a time. It
# expires on its own if that message is lost (beat's drain covers the gap).
KICK_KEY = "cairn:intake:kicked"
KICK_TTL_MS = 5000
# One drain message works this long, then hands over to a fresh message so
# run messages queued meanwhile get a worker too.
DRAIN_SLICE_SECONDS = 2.0
TASK = "automation.drain_events"


@dataclass(frozen=True)
class StoreResult:
    accepted: int
    duplicates: int

    def as_dict(self) -> dict[str, int | None]:
        return IngestResult(self.accepted, self.duplicates, None).as_dict()


def queued() -> bool:
    return settings.EVENT_INTAKE == "queued"


# ------------------------------------------------------------------ the request


def check_contact_refs(
    workspace_id: int, refs: Sequence[ContactRef], *, field: str = "contact.email"
) -> None:
    """Refuse, inside the request, what `link_contact_refs` would refuse at ingest:
    an email that belongs to a contact with another external_id (ContactError
    naming `field`, formatted with the ref's index). Reads only; events
    naming one identity (the usual case) cost no query."""
    both = [(index, ref) for index, ref in enumerate(refs) if ref.external_id and ref.email]
    if not both:
        return
    contacts = Contact.objects.filter(workspace_id=workspace_id)
    known = set(
        contacts.filter(external_id__in={ref.external_id for _, ref in both}).values_list(
            "external_id", flat=True
        )
    )
    owners = dict(
        contacts.filter(
            email__in={ref.email.lower() for _, ref in both}, external_id__isnull=False
        ).values_list("email", "external_id")
    )
    for index, ref in both:
        owner = owners.get(ref.email.lower())
        if ref.external_id in known or owner is None or owner == ref.external_id:
            continue
        raise ContactError(
            f"{ref.email} belongs to the contact with external_id '{owner}'",
            field=field.format(index=index),
        )


def store_events(workspace_id: int, events: Sequence[IncomingEvent]) -> StoreResult:
    """Store validated events as pending, in one statement (all or nothing), and
    wake the drain. Returns how many were new and how many were duplicates."""
    accepted = sum(store_many([(workspace_id, event) for event in events]))
    return StoreResult(accepted=accepted, duplicates=len(events) - accepted)


def store_many(items: Sequence[tuple[int, IncomingEvent]]) -> list[bool]:
    """Store events of any workspaces as pending, in one statement (all or
    nothing), and wake the drain. One flag per event, in order: stored (True)
    or a duplicate of an id already received (False).

    The events of a batch share the sender's id space with each other too:
    of two events with one id, the first is stored and the second is a
    duplicate, as if they had come one after the other."""
    if not items:
        return []
    field = PendingEvent._meta.get_field("payload")
    workspace_ids = [workspace_id for workspace_id, _ in items]
    client_ids = [event.client_id or None for _, event in items]
    payloads = [field.get_db_prep_value(payload(event), connection) for _, event in items]
    table = connection.ops.quote_name(PendingEvent._meta.db_table)
    ingested = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        # One round trip, and one statement text whatever the batch size (the
        # events travel as arrays), so psycopg parses it once per process.
        # An id already ingested (its pending row drained) is left out; a
        # pending twin (not drained yet), a twin inside the batch too, is
        # skipped by the unique constraint. A resend racing the very drain of
        # its first copy may be counted as accepted: the drain still stores
        # it once (ingest deduplicates against stored events). Rows are
        # inserted in the order sent, so their ids keep that order.
        cursor.execute(
            f"INSERT INTO {table} (workspace_id, client_id, payload, received_at, error) "
            "SELECT v.workspace_id, v.client_id, v.payload, %s, '' "
            "FROM unnest(%s::bigint[], %s::text[], %s::jsonb[]) WITH ORDINALITY "
            "AS v (workspace_id, client_id, payload, n) "
            "WHERE v.client_id IS NULL OR NOT EXISTS (SELECT 1 FROM "
            f"{ingested} e WHERE e.workspace_id = v.workspace_id AND e.client_id = v.client_id) "
            "ORDER BY v.n ON CONFLICT DO NOTHING RETURNING workspace_id, client_id",
            [timezone.now(), workspace_ids, client_ids, payloads],
        )
        stored = cursor.fetchall()
    # Rows without an id are always stored; of the rows with one, the first
    # of each (workspace, id) in the batch is the one the INSERT kept.
    kept = {(workspace_id, client_id) for workspace_id, client_id in stored if client_id}
    flags = []
    for workspace_id, client_id in zip(workspace_ids, client_ids, strict=True):
        if client_id is None:
            flags.append(True)
        else:
            flags.append((workspace_id, client_id) in kept)
            kept.discard((workspace_id, client_id))
    if stored:
        transaction.on_commit(wake)
    return flags


def payload(event: IncomingEvent) -> dict:
    ref = event.contact
    return {
        "type": event.type,
        "contact": {
            "email": ref.email,
            "external_id": ref.external_id,
            "properties": ref.properties,
            "time_zone": ref.time_zone,
        },
        "data": dict(event.data),
        "occurred_at": event.occurred_at.isoformat(),
    }


def incoming(row: PendingEvent) -> IncomingEvent:
    body = row.payload
    contact = body["contact"]
    return IncomingEvent(
        type=body["type"],
        contact=ContactRef(
            email=contact.get("email"),
            external_id=contact.get("external_id"),
            properties=contact.get("properties"),
            time_zone=contact.get("time_zone"),
        ),
        data=body.get("data") or {},
        occurred_at=datetime.fromisoformat(body["occurred_at"]),
        client_id=row.client_id,
    )


# When this process last found a drain queued or draining (the flag set, by
# itself or another): events it stores within KICK_SEEN_SECONDS of that skip
# the Redis round trip (a fifth of a single event's cost on the fast path).
_drain_seen_at = -1.0
KICK_SEEN_SECONDS = 0.02


def wake() -> None:
    """`kick`, unless this process found a drain queued or draining a moment ago.

    That drain takes the event too, unless it settled in that moment: then the
    event waits for the next kick (the next event stored here after the
    moment, or another process's) or beat's drain, at most a second. Late,
    never lost."""
    if time.monotonic() - _drain_seen_at < KICK_SEEN_SECONDS:
        return
    kick()


def kick(countdown: float | None = None, *, again: bool = False) -> None:
    """Queue a drain unless one is queued or draining (a Redis flag, set here and
    cleared by the drain when it has nothing left: `settle`). A broker that
    cannot be reached loses nothing: the events are stored and beat's drain
    picks them up. `again`: the drain in hand hands over to a fresh message."""
    global _drain_seen_at
    try:
        if not again:
            queued_here = redis_client(settings.REDIS_URL).set(KICK_KEY, 1, nx=True, px=KICK_TTL_MS)
            _drain_seen_at = time.monotonic()
            if not queued_here:
                return
        if countdown is None:
            # The drain starts a moment later and takes what arrived
            # meanwhile as one batch: fewer, larger transactions and run
            # messages under load, at the price of that moment.
            countdown = settings.EVENT_DRAIN_DELAY
        from celery import current_app

        # On the high queue: enrolment must not wait behind a backlog of runs.
        current_app.send_task(TASK, countdown=countdown, queue="high")
        dependency_log.succeeded("redis")
    except Exception as error:
        dependency_log.failed(
            "redis", "could not queue the event drain; beat's drain will pick them up", error
        )


def settle() -> None:
    """The drain found nothing left: clear the flag, then look once more, so an
    event stored after the last batch (its kick saw the flag) is not left to beat."""
    try:
        redis_client(settings.REDIS_URL).delete(KICK_KEY)
    except Exception as error:
        dependency_log.failed("redis", "could not clear the drain flag", error)
    if PendingEvent.objects.filter(error="").exists():
        kick()


# ------------------------------------------------------------------ the drain


@dataclass(frozen=True)
class DrainResult:
    ingested: int
    # Pending events may be left: another drainer held the lock, or the slice ended.
    busy: bool = False
    more: bool = False


def drain(*, seconds: float = DRAIN_SLICE_SECONDS, batch: int | None = None) -> DrainResult:
    """Ingest pending events, oldest first, batch after batch, for up to `seconds`."""
    size = batch or settings.EVENT_DRAIN_BATCH
    deadline = time.monotonic() + seconds
    total = 0
    while True:
        began = time.monotonic()
        done = retrying(lambda: _drain_batch(size))
        if done is None:
            return DrainResult(total, busy=True)
        count, enrolled = done
        total += count
        if count < size:
            # Caught up: the runs these events enrolled take their first steps
            # here, after the batch committed and with the drain's lock
            # released (they run a workspace's templates and rules: nothing
            # every tenant needs is held meanwhile).
            start_enrolled(enrolled)
        else:
            # A full batch is a backlog: its runs go to the workers, which
            # advance them in parallel while this drain takes the next batch.
            enqueue_now(new.run.pk for new in enrolled)
        if count == 0:
            return DrainResult(total)
        if time.monotonic() >= deadline:
            return DrainResult(total, more=True)
        if count < size:
            # Caught up with a stream: the events arriving meanwhile make the
            # next batch together. A batch has a fixed cost of some twenty
            # statements, several times an event's own, so batches of one
            # (a single client's stream) would cost 18 ms of CPU an event
            # against 2 ms in batches of twenty (bench/drain_batches.py).
            time.sleep(max(0.0, began + settings.EVENT_DRAIN_DELAY - time.monotonic()))


def _drain_batch(size: int) -> tuple[int, list[NewRun]] | None:
    """One transaction under the drain's lock: a fair batch of pending events
    (fair_batch), ingested per workspace, deleted. Returns how many, and the
    runs they enrolled (committed, not started, not queued yet). None when
    another drainer holds the lock."""
    with transaction.atomic():
        if not _lock():
            return None
        rows = fair_batch(size)
        if not rows:
            return 0, []
        by_workspace: dict[int, list[PendingEvent]] = {}
        for row in rows:
            by_workspace.setdefault(row.workspace_id, []).append(row)
        enrolled: list[NewRun] = []
        for workspace_id, pending in by_workspace.items():
            _ingest(workspace_id, pending, enrolled)
        PendingEvent.objects.filter(pk__in=[row.pk for row in rows], error="").delete()
    return len(rows), enrolled


def fair_batch(size: int) -> list[PendingEvent]:
    """Up to `size` pending events, taken round-robin across workspaces: each
    workspace's oldest first, then each one's second oldest, and so on, and
    at most an equal share (size / workspaces with events, at least one) of
    any one workspace. So one workspace's flood of events never fills a
    batch another workspace's event is waiting for, while a workspace alone
    still gets whole batches.

    Within a workspace the events taken are its oldest, in the order they
    were stored (a prefix of its queue): one contact's events are ingested
    in order, batch after batch. Returned in the order stored."""
    oldest = list(PendingEvent.objects.filter(error="").order_by("id")[:size])
    if len(oldest) < size or connection.vendor != "postgresql":
        # Everything pending fits (the drain keeps up, the usual case): that
        # is every workspace's whole share already, in one query.
        return oldest
    table = connection.ops.quote_name(PendingEvent._meta.db_table)
    with connection.cursor() as cursor:
        # The workspaces with events waiting: a skip scan of the workspace
        # index (one probe per workspace, however many events each has).
        cursor.execute(
            "WITH RECURSIVE w (workspace_id) AS ("
            f" (SELECT workspace_id FROM {table} WHERE error = '' ORDER BY workspace_id LIMIT 1)"
            " UNION ALL"
            f" SELECT (SELECT p.workspace_id FROM {table} p WHERE p.error = ''"
            "   AND p.workspace_id > w.workspace_id ORDER BY p.workspace_id LIMIT 1)"
            " FROM w WHERE w.workspace_id IS NOT NULL"
            ") SELECT workspace_id FROM w WHERE workspace_id IS NOT NULL",
        )
        workspaces = [row[0] for row in cursor.fetchall()]
        if not workspaces:
            return []
        share = max(1, -(-size // len(workspaces)))
        cursor.execute(
            "SELECT q.id FROM unnest(%s::bigint[]) AS w (workspace_id) CROSS JOIN LATERAL ("
            f" SELECT p.id, row_number() OVER (ORDER BY p.id) AS turn FROM {table} p"
            " WHERE p.workspace_id = w.workspace_id AND p.error = '' ORDER BY p.id LIMIT %s"
            ") q ORDER BY q.turn, q.id LIMIT %s",
            [workspaces, share, size],
        )
        ids = [row[0] for row in cursor.fetchall()]
    return list(PendingEvent.objects.filter(pk__in=ids).order_by("id"))


# A workspace whose runs took over SLOW_START_SECONDS of CPU to start in one
# batch, over SLOW_RUN_SECONDS a run, is slow: for a minute its runs go to
# the `low` queue (automation/tenancy.py) instead of starting in the drain,
# so its templates never hold up the next batch (another workspace's events)
# nor the queue other workspaces' runs wait in. A big batch of quick runs is
# not slow, nor is one a busy machine slowed down (CPU time of this thread).
SLOW_START_SECONDS = 0.25
SLOW_RUN_SECONDS = 0.05


def start_enrolled(enrolled: list[NewRun]) -> None:
    """Start the runs a caught-up batch enrolled: each workspace's runs in a
    transaction of their own (which locks the runs and their contacts again:
    the drain's lock and the batch's row locks are released by now), unless
    that workspace has been slow lately: then they go to the queue."""
    by_workspace: dict[int, list[NewRun]] = {}
    for new in enrolled:
        by_workspace.setdefault(new.run.workspace_id, []).append(new)
    slow = tenancy.slow_workspaces()
    for workspace_id, runs in by_workspace.items():
        if workspace_id in slow:
            enqueue_now(new.run.pk for new in runs)
            continue
        began = time.thread_time()
        try:
            # Its own transaction (start_enrolled's), so a failure there
            # rolls back alone; runs left over are queued after its commit.
            started = engine.start_enrolled(runs, relock=True)
        except BaseException:
            # Enrolled and committed: never left unqueued (a time limit, a
            # lost database). The workers take them; a lost message is found
            # by the lost-message check.
            enqueue_now(new.run.pk for new in runs)
            raise
        took = time.thread_time() - began
        if took > SLOW_START_SECONDS and took > SLOW_RUN_SECONDS * max(1, started):
            tenancy.mark_slow(workspace_id)
            log.info(
                "workspace %s: starting %d runs took %.2f s of CPU; its runs go to the low "
                "queue for the next %.0f s",
                workspace_id,
                started,
                took,
                tenancy.SLOW_FOR_SECONDS,
            )


def enqueue_now(run_ids: Iterable) -> None:
    """Queue committed runs (outside a transaction, enqueue_runs sends at once);
    a broker or database that fails here loses nothing: the lost-message
    check finds runs queued with no message."""
    try:
        with transaction.atomic():
            enqueue_runs(run_ids)
    except Exception:
        log.warning("could not queue enrolled runs; the lost-message check will", exc_info=True)


def _ingest(workspace_id: int, rows: list[PendingEvent], enrolled: list[NewRun]) -> None:
    """Ingest the rows, all at once (adding the runs they enrolled to
    `enrolled`), or one by one if one is refused."""
    events = [incoming(row) for row in rows]
    try:
        with holding_new_runs() as new_runs, transaction.atomic():
            link_contact_refs(workspace_id, [e.contact for e in events], field="contact.email")
            ingest_events(workspace_id, events)
        enrolled += new_runs
        return
    except NOT_THE_EVENTS_FAULT:
        raise
    except Exception:
        pass
    # One event of the batch cannot be ingested (its email was given to another
    # external id after the request was checked, or ingesting it fails in a way
    # no retry mends): ingest them one by one and keep the ones refused, with
    # why, instead of holding up the rest and every event after them.
    for row, event in zip(rows, events, strict=True):
        try:
            # Queued as usual: a contact of several of these events is a
            # fresh object in each, and only the last one is up to date.
            with transaction.atomic():
                link_contact_refs(workspace_id, [event.contact], field="contact.email")
                ingest_events(workspace_id, [event])
        except ContactError as error:
            log.warning("pending event %s refused at ingest: %s", row.pk, error)
            PendingEvent.objects.filter(pk=row.pk).update(error=f"{error.field}: {error}")
        except NOT_THE_EVENTS_FAULT:
            raise
        except Exception as error:
            log.exception("pending event %s could not be ingested; kept aside", row.pk)
            reason = f"ingest failed: {type(error).__name__}: {error}"
            PendingEvent.objects.filter(pk=row.pk).update(error=reason[:1000])


# Failures that are not the event's: the database went away (the drain is
# tried again, the events stay pending), or the task ran out of time.
NOT_THE_EVENTS_FAULT = engine.NOT_THE_RUNS_FAULT


def _lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: one writer at a time anyway
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [DRAIN_LOCK_KEY])
        return bool(cursor.fetchone()[0])
