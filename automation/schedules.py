"""Time-driven triggers: trigger.schedule (cron/interval) and trigger.inactivity."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from .enrolment import Enrolment, enrol
from .models import ACTIVE_RUN_STATUSES, Contact, DeploymentStatus, Event, Run, TriggerBinding
from .nodes.triggers import INACTIVITY, SCHEDULE, trigger_class, trigger_types

ENROL_BATCH = 500


def fire_due_schedules() -> int:
    """Enrol each due schedule's segment, page by page.

    A due schedule is claimed first (its next fire time moved on, in a short
    transaction, so two sweeps never fire it twice); its segment is then
    enrolled ENROL_BATCH contacts at a time, each page its own transaction.
    """
    now = timezone.now()
    with transaction.atomic():
        due = list(
            TriggerBinding.objects.filter(
                trigger_type__in=trigger_types(SCHEDULE),
                next_fire_at__lte=now,
                deployment__status=DeploymentStatus.ACTIVE,
            )
            .select_related("deployment")
            .select_for_update(skip_locked=True, of=("self",))
        )
        for binding in due:
            binding.next_fire_at = trigger_class(binding.trigger_type).next_fire(
                binding.config, now
            )
            binding.save(update_fields=["next_fire_at"])
    return sum(_enrol_segment(binding) for binding in due)


def _enrol_segment(binding: TriggerBinding) -> int:
    trigger = trigger_class(binding.trigger_type)
    contacts = Contact.objects.filter(workspace_id=binding.workspace_id)
    enrolled, after = 0, 0
    while True:
        with transaction.atomic():
            # Locked like event ingest locks them, so enrolment rules hold.
            page = list(
                contacts.filter(pk__gt=after)
                .order_by("pk")
                .select_for_update(of=("self",))[:ENROL_BATCH]
            )
            if not page:
                return enrolled
            enrolments = [
                Enrolment(binding.deployment, contact, binding.node_id)
                for contact in page
                if trigger.includes(binding.config, {"contact": contact.snapshot()})
            ]
            enrolled += len(enrol(enrolments))
        after = page[-1].pk
        if len(page) < ENROL_BATCH:
            return enrolled


def enrol_inactive_contacts() -> int:
    """trigger.inactivity: the contact had events of the type, but none for N days.

    A contact is enrolled once per stretch of inactivity: it must show
    activity again (or the workflow's re-enrolment rule must allow it)
    before the same silence enrols it a second time. Contacts the rule
    refuses are no candidates at all, and candidates are walked in pages
    by id, each page its own short transaction: however many are refused,
    every eligible contact is reached.
    """
    now = timezone.now()
    bindings = TriggerBinding.objects.filter(
        trigger_type__in=trigger_types(INACTIVITY), deployment__status=DeploymentStatus.ACTIVE
    ).select_related("deployment")
    return sum(_enrol_inactive(binding, now) for binding in bindings)


def _inactive_candidates(binding: TriggerBinding, now):
    cutoff = now - timedelta(days=int(binding.config.get("days", 30)))
    last_activity = Subquery(
        Event.objects.filter(contact=OuterRef("pk"), type=binding.key)
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    runs = Run.objects.filter(
        workflow_id=binding.deployment_id, contact=OuterRef("pk"), is_preview=False
    )
    candidates = (
        Contact.objects.filter(workspace_id=binding.workspace_id)
        .annotate(last_activity=last_activity)
        .filter(last_activity__lt=cutoff)
        .filter(~Exists(runs.filter(created_at__gte=OuterRef("last_activity"))))
    )
    rule = binding.deployment.settings.get("reenrollment") or "never"
    if rule == "never":
        candidates = candidates.filter(~Exists(runs))
    elif rule == "after_completion":
        candidates = candidates.filter(~Exists(runs.filter(status__in=ACTIVE_RUN_STATUSES)))
    return candidates


def _enrol_inactive(binding: TriggerBinding, now) -> int:
    candidates = _inactive_candidates(binding, now)
    enrolled, after = 0, 0
    while True:
        with transaction.atomic():
            # Locked like event ingest locks them (a contact busy there is
            # skipped and found again on the next check).
            page = list(
                candidates.filter(pk__gt=after)
                .order_by("pk")
                .select_for_update(of=("self",), skip_locked=True)[:ENROL_BATCH]
            )
            if not page:
                return enrolled
            enrolled += len(
                enrol(Enrolment(binding.deployment, contact, binding.node_id) for contact in page)
            )
        after = page[-1].pk
        if len(page) < ENROL_BATCH:
            return enrolled
