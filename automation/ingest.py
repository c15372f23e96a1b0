"""Event ingest: store, deduplicate, upsert contacts, enrol, resume, exit.

One batch is one transaction: either every event in it is stored and acted
on, or none is. Contacts touched by the batch are row-locked (in id order, so
two batches never deadlock) which serialises enrolment per contact: two events
racing for one contact cannot both pass a "never re-enrol" check.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import OperationalError, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from . import awaited, transitions
from .contacts import (
    ContactRef,
    fire_contacts_triggers,
    merge_properties,
    number_event,
    save_contacts,
)
from .enrolment import Enrolment, enrol
from .models import Contact, Deployment, DeploymentStatus, Event, Run, RunStatus, TriggerBinding
from .nodes.base import RESUMED_BY_EVENT
from .nodes.triggers import EVENT, WEBHOOK, trigger_class, trigger_types
from .timers import wake_runs

T = TypeVar("T")

ENGAGEMENT_COUNTERS = {
    "email_opened": "opens",
    "email_clicked": "clicks",
    "email_replied": "replies",
}


# Sent inside a batch's transaction with the events it stored (duplicates left
# out), whichever path they came by (API, queued intake, webhook triggers): an app
# that keeps something per event (products/ rolls up product usage) writes
# it with the events, or not at all. Receivers get `workspace_id`, `events`.
events_stored = Signal()


@dataclass(frozen=True)
class IncomingEvent:
    type: str
    contact: ContactRef
    data: Mapping[str, Any]
    occurred_at: datetime
    client_id: str | None = None


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    # None: enrolment happens after the answer (the queued intake, automation/pending_events.py).
    enrolled: int | None

    def as_dict(self) -> dict[str, int | None]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "enrolled": self.enrolled}


@transaction.atomic
def ingest_events(workspace_id: int, events: Sequence[IncomingEvent]) -> IngestResult:
    contacts = upsert_contacts(workspace_id, [event.contact for event in events])
    fresh, duplicates = _store_new_events(workspace_id, events, contacts)
    touched = {id(c): c for c in contacts.values()}
    runs = _update_contacts(list(touched.values()), events, contacts, fresh)
    if fresh:
        runs += _enrol_from_events(workspace_id, fresh)
        _resume_subscriptions(fresh)
        _exit_waiting_runs(workspace_id, fresh)
    return IngestResult(accepted=len(fresh), duplicates=duplicates, enrolled=len(runs))


def contact_key(ref: ContactRef) -> tuple[str, str]:
    if ref.external_id:
        return ("external_id", ref.external_id)
    return ("email", (ref.email or "").lower())


def upsert_contacts(workspace_id: int, refs: Sequence[ContactRef]) -> dict[tuple, Contact]:
    """Find or create a contact for each ref and lock them all, in id order."""
    by_external = {ref.external_id for ref in refs if ref.external_id}
    by_email = {ref.email.lower() for ref in refs if ref.email and not ref.external_id}
    found = _find_contacts(workspace_id, by_external, by_email)
    missing = {}
    for ref in refs:
        key = contact_key(ref)
        if key not in found and key not in missing:
            missing[key] = Contact(
                workspace_id=workspace_id,
                email=ref.email.lower() if ref.email else None,
                external_id=ref.external_id or None,
                time_zone=ref.time_zone or "UTC",
            )
    if missing:
        # A concurrent request may create the same contact: ignore the
        # conflict and read back whichever row won. Inserted in one global
        # order (by key): two batches naming the same new contacts in
        # opposite orders would otherwise wait on each other's rows.
        Contact.objects.bulk_create(
            [missing[key] for key in sorted(missing)], ignore_conflicts=True
        )
        found = _find_contacts(workspace_id, by_external, by_email)
    ids = sorted({contact.pk for contact in found.values()})
    locked = {
        c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    return {key: locked[contact.pk] for key, contact in found.items()}


def _find_contacts(workspace_id, external_ids, emails) -> dict[tuple, Contact]:
    query = Q()
    if external_ids:
        query |= Q(external_id__in=external_ids)
    if emails:
        query |= Q(email__in=emails)
    found: dict[tuple, Contact] = {}
    if not query:
        return found
    for contact in Contact.objects.filter(query, workspace_id=workspace_id):
        if contact.external_id in external_ids:
            found[("external_id", contact.external_id)] = contact
        if contact.email in emails:
            found.setdefault(("email", contact.email), contact)
    return found


def _store_new_events(workspace_id, events, contacts) -> tuple[list[Event], int]:
    client_ids = {event.client_id for event in events if event.client_id}
    seen = set(
        Event.objects.filter(workspace_id=workspace_id, client_id__in=client_ids).values_list(
            "client_id", flat=True
        )
    )
    rows = []
    for event in events:
        if event.client_id:
            if event.client_id in seen:
                continue
            seen.add(event.client_id)
        contact = contacts[contact_key(event.contact)]
        rows.append(
            Event(
                id=uuid.uuid4(),
                workspace_id=workspace_id,
                client_id=event.client_id or None,
                type=event.type,
                contact=contact,
                seq=number_event(contact),
                data=dict(event.data),
                occurred_at=event.occurred_at,
            )
        )
    # In one global order (by the sender's id), for the reason contacts are.
    Event.objects.bulk_create(
        sorted(rows, key=lambda row: row.client_id or ""), ignore_conflicts=True
    )
    if any(row.client_id for row in rows):
        # Rows a concurrent batch stored first were skipped by the insert.
        stored = set(Event.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))
        rows = [row for row in rows if row.pk in stored]
    if rows:
        events_stored.send(sender=Event, workspace_id=workspace_id, events=rows)
    return rows, len(events) - len(rows)


def _update_contacts(contacts, events, by_key, fresh) -> list[Run]:
    """Apply the properties sent with events, and derive last seen and counters."""
    sent: dict[int, list[ContactRef]] = {}
    for event in events:
        sent.setdefault(by_key[contact_key(event.contact)].pk, []).append(event.contact)
    stored: dict[int, list[Event]] = {}
    for event in fresh:
        stored.setdefault(event.contact_id, []).append(event)
    changes = []
    for contact in contacts:
        old_properties = dict(contact.properties)
        old_tags = list(contact.tags)
        for ref in sent.get(contact.pk, ()):
            if ref.properties:
                contact.properties = merge_properties(contact.properties, ref.properties)
            if ref.time_zone:
                contact.time_zone = ref.time_zone
        engagement = dict(contact.engagement)
        for event in stored.get(contact.pk, ()):
            counter = ENGAGEMENT_COUNTERS.get(event.type)
            if counter:
                engagement[counter] = engagement.get(counter, 0) + 1
                engagement[f"last_{counter[:-1]}"] = event.occurred_at.isoformat()
            if contact.last_seen_at is None or event.occurred_at > contact.last_seen_at:
                contact.last_seen_at = event.occurred_at
        contact.engagement = engagement
        changes.append((contact, old_properties, old_tags))
    runs = fire_contacts_triggers(changes)
    save_contacts(contacts, ["properties", "time_zone", "engagement", "last_seen_at", "event_seq"])
    return runs


def _enrol_from_events(workspace_id, events: list[Event]) -> list[Run]:
    types = {event.type for event in events}
    bindings = list(
        TriggerBinding.objects.filter(
            workspace_id=workspace_id,
            trigger_type__in=trigger_types(EVENT),
            key__in=types,
            deployment__status=DeploymentStatus.ACTIVE,
        ).select_related("deployment")
    )
    if not bindings:
        return []
    enrolments = []
    for event in events:
        scope = None
        for binding in bindings:
            if binding.key != event.type:
                continue
            scope = scope or {"event": event.snapshot(), "contact": event.contact.snapshot()}
            if not trigger_class(binding.trigger_type).matches_event(binding.config, scope):
                continue
            enrolments.append(Enrolment(binding.deployment, event.contact, binding.node_id, event))
    return enrol(enrolments)


def _resume_subscriptions(events: list[Event]) -> None:
    """Runs waiting for one of these events take the `received` handle."""
    by_contact: dict[int, list[Event]] = {}
    for event in events:
        by_contact.setdefault(event.contact_id, []).append(event)
    waiting = (
        Run.objects.filter(
            status=RunStatus.WAITING,
            contact_id__in=by_contact,
            waiting_for__in={event.type for event in events},
        )
        # A run the sweep is waking right now (its timeout fell due) is
        # skipped: the timeout won that race.
        .select_for_update(skip_locked=True)
        .only(
            "pk",
            "contact_id",
            "trigger_event_id",
            "events_after",
            "current_node",
            "waiting_for",
            "wait_rules",
        )
    )
    woken = []
    for run in waiting:
        event = awaited.take_arrived(run, by_contact[run.contact_id])
        if event is None:
            continue
        Run.objects.filter(pk=run.pk, status=RunStatus.WAITING).update(
            resume_handle=RESUMED_BY_EVENT,
            resume_payload=event.snapshot(),
            waiting_for="",
            resume_at=timezone.now(),
        )
        woken.append(run.pk)
    if woken:
        wake_runs(Q(pk__in=woken))


def _exit_waiting_runs(workspace_id, events: list[Event]) -> None:
    """Exit criteria by event: waiting runs leave now; running ones check on their next chunk."""
    exits = dict(
        Deployment.objects.filter(
            workspace_id=workspace_id, exit_event__in={event.type for event in events}
        ).values_list("pk", "exit_event")
    )
    for workflow_id, exit_event in exits.items():
        contact_ids = {event.contact_id for event in events if event.type == exit_event}
        waiting = (
            Run.objects.filter(
                workflow_id=workflow_id, contact_id__in=contact_ids, status=RunStatus.WAITING
            )
            .select_for_update(skip_locked=True)
            .only("pk", "contact_id", "events_after")
        )
        ids = awaited.exits(waiting, events, exit_event)
        transitions.exit_runs(
            Run.objects.filter(pk__in=ids, status=RunStatus.WAITING),
            f"exit criteria met: {exit_event} received",
        )


RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure
INGEST_ATTEMPTS = 3


def retrying(work: Callable[[], T]) -> T:
    """Run `work` (one transaction) again when the database aborts it for a
    deadlock or a serialization failure: the client never sees a conflict
    between two requests as an error. The aborted attempt rolled back
    entirely, its on-commit hand-offs with it."""
    for attempt in range(1, INGEST_ATTEMPTS + 1):
        try:
            return work()
        except OperationalError as error:
            state = getattr(error.__cause__, "sqlstate", None)
            if state not in RETRYABLE_SQLSTATES or attempt == INGEST_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")


WEBHOOK_EVENT_TYPE = "webhook"


@transaction.atomic
def ingest_webhook(workflow_id, event: IncomingEvent) -> IngestResult:
    """trigger.webhook: a POST to the workflow's own URL enrols into that workflow only."""
    deployment = Deployment.objects.filter(pk=workflow_id).first()
    if deployment is None:
        return IngestResult(accepted=0, duplicates=0, enrolled=0)
    contacts = upsert_contacts(deployment.workspace_id, [event.contact])
    fresh, duplicates = _store_new_events(deployment.workspace_id, [event], contacts)
    runs = _update_contacts(list(contacts.values()), [event], contacts, fresh)
    enrolments = []
    for stored in fresh:
        scope = {"event": stored.snapshot(), "contact": stored.contact.snapshot()}
        for binding in deployment.triggers.filter(trigger_type__in=trigger_types(WEBHOOK)):
            if not trigger_class(binding.trigger_type).matches_event(binding.config, scope):
                continue
            enrolments.append(Enrolment(deployment, stored.contact, binding.node_id, stored))
    runs += enrol(enrolments)
    return IngestResult(accepted=len(fresh), duplicates=duplicates, enrolled=len(runs))
