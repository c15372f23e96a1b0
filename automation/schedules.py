"""Time-driven triggers: trigger.schedule (cron/interval) and trigger.inactivity."""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from .enrolment import Enrolment, enrol
from .models import ACTIVE_RUN_STATUSES, Contact, DeploymentStatus, Event, Run, TriggerBinding
from .nodes.triggers import INACTIVITY, SCHEDULE, trigger_class, trigger_types

ENROL_BATCH = 500


# How long one sweep enrols before it returns (the rest goes on at the next
# sweep, from where it stopped), well inside the task's time limits.
FIRE_SLICE_SECONDS = 20.0


def fire_due_schedules(*, seconds: float = FIRE_SLICE_SECONDS) -> int:
    """Enrol the segments of due schedules, page by page, for up to `seconds`.

    A due schedule is claimed first (its next fire time moved on and its
    firing opened, in a short transaction, so two sweeps never fire it
    twice). Every open firing then enrols one page of ENROL_BATCH contacts in
    turn, each page in its own transaction with the firing's progress
    (`TriggerBinding.fire_after`): a sweep cut off by a time limit or a killed
    worker loses nothing, and the next sweep goes on where the last page
    committed; one huge segment never keeps the other schedules waiting.
    """
    _claim_due(timezone.now())
    deadline = time.monotonic() + seconds
    enrolled = 0
    while True:
        firing = list(
            TriggerBinding.objects.filter(
                trigger_type__in=trigger_types(SCHEDULE),
                fire_after__isnull=False,
                deployment__status=DeploymentStatus.ACTIVE,
            ).values_list("pk", flat=True)
        )
        if not firing:
            return enrolled
        for binding_id in firing:
            enrolled += _enrol_page(binding_id)
            if time.monotonic() >= deadline:
                return enrolled


def _claim_due(now) -> None:
    with transaction.atomic():
        due = TriggerBinding.objects.filter(
            trigger_type__in=trigger_types(SCHEDULE),
            next_fire_at__lte=now,
            deployment__status=DeploymentStatus.ACTIVE,
        ).select_for_update(skip_locked=True)
        for binding in due:
            binding.next_fire_at = trigger_class(binding.trigger_type).next_fire(
                binding.config, now
            )
            if binding.fire_after is None:  # a firing still under way goes on as it is
                binding.fire_after = 0
            binding.save(update_fields=["next_fire_at", "fire_after"])


def _enrol_page(binding_id) -> int:
    """One page of a firing's segment, with the firing's progress, in one transaction."""
    with transaction.atomic():
        binding = (
            TriggerBinding.objects.filter(pk=binding_id, fire_after__isnull=False)
            .select_related("deployment")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if binding is None:  # finished, or another sweep has it
            return 0
        trigger = trigger_class(binding.trigger_type)
        # Locked like event ingest locks them, so enrolment rules hold.
        page = list(
            Contact.objects.filter(
                workspace_id=binding.workspace_id, is_preview=False, pk__gt=binding.fire_after
            )
            .order_by("pk")
            .select_for_update(of=("self",))[:ENROL_BATCH]
        )
        enrolments = [
            Enrolment(binding.deployment, contact, binding.node_id)
            for contact in page
            if trigger.includes(binding.config, {"contact": contact.snapshot()})
        ]
        enrolled = len(enrol(enrolments))
        binding.fire_after = page[-1].pk if len(page) == ENROL_BATCH else None
        binding.save(update_fields=["fire_after"])
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
        Contact.objects.filter(workspace_id=binding.workspace_id, is_preview=False)
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
