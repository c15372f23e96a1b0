"""Product verbs: create and configure products, take usage in, refresh metrics,
fire band crossings into product-subject runs, escalate and acknowledge.

Views, tasks, nodes and the admin call these; they hold the domain logic.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from automation.contacts import link_contact_refs, reserve_event_seq
from automation.dispatch import enqueue_runs
from automation.enrolment import Enrolment, enrol
from automation.ingest import IncomingEvent, IngestResult, ingest_events, retrying
from automation.models import (
    Contact,
    Deployment,
    DeploymentStatus,
    Event,
    InboxItem,
    Run,
    TriggerBinding,
)
from automation.nodes.triggers import trigger_types

from . import metrics as product_metrics
from . import rollup
from .models import (
    ADOPTION_BANDS,
    FEATURE_ADOPTION,
    HEALTH_BANDS,
    PRODUCT_HEALTH,
    BandCrossing,
    BandState,
    Escalation,
    Feature,
    FeatureUseDay,
    MetricPoint,
    Product,
    UsageDay,
)

log = logging.getLogger("cairn.products")

# How product band triggers are activated: by products/ when a band is entered
# (or through POST /api/v1/automation/triggers/...), never by event ingest.
PRODUCT = "product"

# The crossing event types product-subject runs carry as their trigger event.
CROSSING_EVENT = {
    FEATURE_ADOPTION: "product.feature_adoption",
    PRODUCT_HEALTH: "product.health",
}
SIGNALS = ("performance_optimization", "market_opportunity")


# ---------------------------------------------------------------- products


@transaction.atomic
def create_product(workspace, *, features: Sequence[Mapping[str, Any]] = (), **fields) -> Product:
    """A product, its subject contact (what its product-level runs run for) and its features."""
    subject = Contact.objects.create(
        workspace=workspace,
        is_preview=True,
        properties={"product": fields.get("name", "")},
    )
    product = Product.objects.create(workspace=workspace, subject=subject, **fields)
    for feature in features:
        Feature.objects.create(product=product, **feature)
    mark_dirty([product.pk])
    return product


@transaction.atomic
def update_product(product: Product, **fields) -> Product:
    for name, value in fields.items():
        setattr(product, name, value)
    product.save()
    return product


@transaction.atomic
def set_configuration(product: Product, configuration: Mapping[str, Any]) -> Product:
    """Replace the configuration (validated by the API); metrics are recomputed soon."""
    product.configuration = dict(configuration)
    product.save(update_fields=["configuration", "updated_at"])
    mark_dirty([product.pk])
    return product


def add_feature(product: Product, **fields) -> Feature:
    with transaction.atomic():
        feature = Feature.objects.create(product=product, **fields)
        mark_dirty([product.pk])
    return feature


def update_feature(feature: Feature, **fields) -> Feature:
    with transaction.atomic():
        for name, value in fields.items():
            setattr(feature, name, value)
        feature.save()
        mark_dirty([feature.product_id])
    return feature


def mark_dirty(product_ids: Sequence[int]) -> None:
    """Usage or configuration changed: the next refresh recomputes these products."""
    Product.objects.filter(pk__in=product_ids, dirty_at__isnull=True).update(
        dirty_at=timezone.now()
    )


# ---------------------------------------------------------------- usage in


def record_usage(
    product: Product, events: Sequence[IncomingEvent], *, email_field: str = "contact.email"
) -> IngestResult:
    """Store usage events through automation's ingest (deduplicated by id, and
    ordinary events for contact workflows), tagged with the product; the
    metrics follow on the next refresh, not per event (the rollup and the
    product's mark are written by `count_usage` with the events). Like POST
    /events, a deadlock is retried inside the request (one transaction per attempt)."""
    tagged = [replace(event, data={**dict(event.data), "product": product.pk}) for event in events]

    def ingest() -> IngestResult:
        with transaction.atomic():
            link_contact_refs(product.workspace_id, [e.contact for e in tagged], field=email_field)
            return ingest_events(product.workspace_id, tagged)

    return retrying(ingest)


def count_usage(sender, *, workspace_id: int, events: Sequence[Event], **_) -> None:
    """automation's `events_stored`, inside the batch's transaction: the product usage
    among the events goes into the rollup and marks its products for recomputation.
    Connected in ProductsConfig.ready()."""
    counted = rollup.record(workspace_id, events)
    if counted:
        mark_dirty(sorted(counted))


# ---------------------------------------------------------------- metrics


# Time one refresh tick may spend (it runs on the housekeeping queue, beside
# the one-second timer sweep, so it must stay short); what is left waits for
# the next tick.
REFRESH_BUDGET_SECONDS = 1.5
# Products a tick looks at, at most (dirty ones, then stale ones).
REFRESH_BATCH = 1000
# Rollup days kept: the longest window (365 days) and today.
ROLLUP_KEEP_DAYS = 366


def refresh_due_products(budget_seconds: float = REFRESH_BUDGET_SECONDS) -> int:
    """Beat, every PRODUCT_METRICS_DIRTY_SECONDS: recompute the products whose usage
    or configuration changed (oldest mark first), then those the full pass
    marked stale, until the budget is spent (one product at least).

    Whatever is left is still marked, so the next tick goes on where this one
    stopped: however many products there are, a pass never meets the task's
    time limit, and one that is stopped (a time limit, a restart) loses
    nothing. A product whose computation fails is logged and put at the back
    of the line instead of holding up the others.
    """
    deadline = time.monotonic() + budget_seconds
    marked = Product.objects.values_list("pk", flat=True)
    dirty = marked.filter(dirty_at__isnull=False).order_by("dirty_at", "pk")[:REFRESH_BATCH]
    stale = marked.filter(stale_at__isnull=False).order_by("stale_at", "pk")[:REFRESH_BATCH]
    refreshed = 0
    for pk in dict.fromkeys([*dirty, *stale]):
        try:
            refreshed += refresh_product(pk, only_due=True)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            log.exception("product %s: computing its metrics failed; it goes to the back", pk)
            now = timezone.now()
            Product.objects.filter(pk=pk, dirty_at__isnull=False).update(dirty_at=now)
            Product.objects.filter(pk=pk, stale_at__isnull=False).update(stale_at=now)
        if time.monotonic() >= deadline:
            break
    return refreshed


def refresh_all_products(now: datetime | None = None) -> int:
    """Beat, every PRODUCT_METRICS_ALL_SECONDS: the rolling window moves on without
    new usage too, so every product is marked stale (one UPDATE) for the ticks
    of `refresh_due_products` to recompute; rollup days older than any window
    go. Returns how many products were marked."""
    now = now or timezone.now()
    oldest = rollup.day_of(now) - timedelta(days=ROLLUP_KEEP_DAYS)
    UsageDay.objects.filter(day__lt=oldest).delete()
    FeatureUseDay.objects.filter(day__lt=oldest).delete()
    return Product.objects.filter(stale_at__isnull=True).update(stale_at=now)


def refresh_product(product_id: int, *, now: datetime | None = None, only_due=False) -> bool:
    """Compute one product's metrics, store today's point, move its bands, fire crossings.

    The product row is locked (skipped if another worker holds it), so two
    refreshes never compute the same crossing twice. `only_due`: only if it
    is still marked dirty or stale (another tick may have done it since).
    """
    with transaction.atomic():
        query = Product.objects.select_for_update(skip_locked=True).filter(pk=product_id)
        if only_due:
            query = query.filter(Q(dirty_at__isnull=False) | Q(stale_at__isnull=False))
        product = query.first()
        if product is None:
            return False
        now = now or timezone.now()
        figures = product_metrics.compute(product, now)
        _add_trends(product, figures, now)
        product.metrics = figures
        product.metrics_at = now
        product.dirty_at = product.stale_at = None
        product.save(update_fields=["metrics", "metrics_at", "dirty_at", "stale_at"])
        MetricPoint.objects.update_or_create(
            product=product, day=now.date(), defaults={"metrics": _point(figures)}
        )
        for crossing in _move_bands(product, figures, now):
            fire_crossing(crossing)
    return True


def _add_trends(product: Product, figures: dict, now: datetime) -> None:
    """Each feature's trend: adoption now minus adoption on the latest earlier day."""
    previous = (
        MetricPoint.objects.filter(product=product, day__lt=now.date()).order_by("-day").first()
    )
    before = (previous.metrics.get("features") or {}) if previous else {}
    for key, feature in figures["features"].items():
        old = before.get(key)
        feature["trend"] = (
            round(feature["adoption"] - old, 1)
            if feature["adoption"] is not None and old is not None
            else None
        )
    old_health = previous.metrics.get("health_score") if previous else None
    figures["health_trend"] = (
        round(figures["health_score"] - old_health, 1)
        if figures["health_score"] is not None and old_health is not None
        else None
    )


def _point(figures: dict) -> dict:
    """What a daily point keeps for charts."""
    return {
        "health_score": figures["health_score"],
        "active_users": figures["active_users"],
        "engagement": figures["engagement"],
        "error_rate": figures["error_rate"],
        "nps": figures["nps"],
        "features": {key: f["adoption"] for key, f in figures["features"].items()},
    }


def _move_bands(product: Product, figures: dict, now: datetime) -> list[BandCrossing]:
    """Move each metric's band (with hysteresis); a band entered is a crossing.

    A product with no usage at all in the window enters no band: a new
    product does not start "low adoption" workflows before anyone used it.
    """
    if not figures["usage_events"]:
        return []
    config = product.config
    margin = float(config["hysteresis"])
    watched = [
        (FEATURE_ADOPTION, key, f["adoption"], config["adoption_bands"], ADOPTION_BANDS)
        for key, f in figures["features"].items()
    ]
    watched.append(
        (PRODUCT_HEALTH, "", figures["health_score"], config["health_bands"], HEALTH_BANDS)
    )
    states = {(s.metric, s.feature_key): s for s in product.band_states.all()}
    crossings = []
    for metric, key, value, edges, names in watched:
        if value is None:
            continue
        state = states.get((metric, key))
        band = product_metrics.next_band(
            state.band if state else None, value, list(edges), names, margin
        )
        if state is None:
            state = BandState(product=product, metric=metric, feature_key=key, band="")
        if state.band == band:
            if state.value != value:
                state.value = value
                state.save(update_fields=["value"])
            continue
        crossings.append(
            BandCrossing.objects.create(
                product=product,
                metric=metric,
                feature_key=key,
                from_band=state.band,
                to_band=band,
                value=value,
            )
        )
        state.band, state.value, state.entered_at = band, value, now
        state.save()
    return crossings


# ---------------------------------------------------------------- crossings → runs


def fire_crossing(crossing: BandCrossing, payload: Mapping[str, Any] | None = None) -> list[Run]:
    """Store the crossing's event and start a product-subject run in every active
    workflow whose product trigger matches it. The crossing is the unit: each
    matching workflow runs once for it, whatever its re-enrolment rule says
    about the product's subject contact."""
    product = crossing.product
    feature = product.features.filter(key=crossing.feature_key).first()
    data = {
        "product": product.snapshot(),
        "metric": crossing.metric,
        "band": crossing.to_band,
        "previous_band": crossing.from_band or None,
        "value": crossing.value,
        "feature": ({"key": feature.key, "name": feature.name or feature.key} if feature else None),
        "metrics": product.metrics,
        "crossing": crossing.pk,
        "payload": dict(payload or {}),
    }
    event = Event.objects.create(
        workspace_id=product.workspace_id,
        type=CROSSING_EVENT.get(crossing.metric, f"product.{crossing.metric}"),
        contact=product.subject,
        seq=reserve_event_seq(product.subject_id),
        data=data,
        occurred_at=timezone.now(),
    )
    crossing.event = event
    crossing.save(update_fields=["event"])
    return start_product_runs(product, event, data)


def start_product_runs(product: Product, event: Event, data: Mapping[str, Any]) -> list[Run]:
    from automation.nodes.triggers import trigger_class

    bindings = TriggerBinding.objects.filter(
        workspace_id=product.workspace_id,
        trigger_type__in=trigger_types(PRODUCT),
        deployment__status=DeploymentStatus.ACTIVE,
    ).select_related("deployment")
    queued_at = timezone.now()
    runs = [
        Run(
            workspace_id=product.workspace_id,
            workflow_id=binding.deployment_id,
            version_id=binding.deployment.version_id,
            contact_id=product.subject_id,
            product=product,
            trigger_event=event,
            events_after=event.seq,
            trigger_node=binding.node_id,
            current_node=binding.node_id,
            queued_at=queued_at,
        )
        for binding in bindings
        if trigger_class(binding.trigger_type).matches_crossing(binding.config, data)
    ]
    Run.objects.bulk_create(runs)
    enqueue_runs(run.pk for run in runs)
    return runs


@transaction.atomic
def fire_from_api(
    product: Product,
    kind: str,
    *,
    band: str | None,
    feature_key: str,
    value: float | None,
    payload: Mapping[str, Any],
) -> tuple[BandCrossing, list[Run]]:
    """POST /api/v1/automation/triggers/{kind}: a crossing (or signal) from outside."""
    crossing = BandCrossing.objects.create(
        product=product,
        metric=kind,
        feature_key=feature_key,
        to_band=band or kind,
        value=value,
        source=BandCrossing.Source.API,
    )
    runs = fire_crossing(crossing, payload)
    return crossing, runs


# ---------------------------------------------------------------- enrol a product's contacts

AUDIENCES = ("non_users", "users", "target", "active")


def audience_contacts(product: Product, feature_key: str, audience: str, now: datetime):
    """Contacts of a product audience: the feature's target users who have (not)
    used it in the window, its whole target, or the product's active users."""
    days = product_metrics.usage_days(product, now)
    contacts = Contact.objects.filter(workspace_id=product.workspace_id, is_preview=False)
    if audience == "active":
        return contacts.filter(Exists(days.filter(contact=OuterRef("pk"))))
    feature = product.features.filter(key=feature_key).first()
    if feature is None:
        return contacts.none()
    if feature.target_tag:
        target = contacts.filter(product_metrics.tagged(feature.target_tag))
    else:
        # A number as the audience: the product's active users are who is there to reach.
        target = contacts.filter(Exists(days.filter(contact=OuterRef("pk"))))
    used = Exists(
        product_metrics.feature_use_days(product, now).filter(
            feature_key=feature.key, contact=OuterRef("pk")
        )
    )
    if audience == "users":
        return target.filter(used)
    if audience == "non_users":
        return target.filter(~used)
    return target


def enrol_product_contacts(
    *, product_id: int, workspace_id: Any, workflow_id: str, feature_key: str, audience: str
) -> dict[str, Any]:
    """Enrol an audience of a product into a contact workflow, page by page; the
    workflow's re-enrolment rule applies to each contact."""
    product = Product.objects.filter(pk=product_id, workspace_id=workspace_id).first()
    if product is None:
        raise LookupError(f"product {product_id} does not exist in this workspace")
    try:
        workflow_id = uuid.UUID(str(workflow_id))
    except ValueError as error:
        raise LookupError(f"workflow {workflow_id!r} is not a workflow id") from error
    deployment = Deployment.objects.filter(pk=workflow_id, workspace_id=workspace_id).first()
    if deployment is None or deployment.status != DeploymentStatus.ACTIVE:
        raise LookupError(f"workflow {workflow_id} is not published and active")
    trigger = deployment.triggers.order_by("node_id").first()
    if trigger is None:
        raise LookupError(f"workflow {workflow_id} has no trigger")
    candidates = audience_contacts(product, feature_key, audience, timezone.now())
    matched, enrolled, after = 0, 0, 0
    while True:
        with transaction.atomic():
            page = list(
                candidates.filter(pk__gt=after).order_by("pk").select_for_update(of=("self",))[:500]
            )
            if not page:
                break
            matched += len(page)
            enrolled += len(enrol(Enrolment(deployment, c, trigger.node_id) for c in page))
        after = page[-1].pk
    return {"audience": audience, "matched": matched, "enrolled": enrolled}


# ---------------------------------------------------------------- escalation

LEVEL_NAMES = {1: "automated guidance", 2: "product manager", 3: "executive"}


def owner_for(product: Product, level: int) -> str:
    if level >= 3:
        return product.executive_email or product.manager_email
    if level == 2:
        return product.manager_email
    return ""


def open_escalation(
    *,
    product_id: int,
    workspace_id: Any,
    idempotency_key: str,
    run_id: str,
    title: str,
    message: str,
    guidance: str,
    level: int,
    max_level: int,
    acknowledge_within: int,
) -> Escalation:
    """Open an escalation at `level` and route it (once per idempotency key)."""
    with transaction.atomic():
        product = Product.objects.filter(pk=product_id, workspace_id=workspace_id).first()
        if product is None:
            raise LookupError(f"product {product_id} does not exist in this workspace")
        escalation, created = Escalation.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={
                "product": product,
                "run_id": run_id or None,
                "title": title[:500],
                "message": message,
                "guidance": guidance,
                "level": level,
                "max_level": max(level, max_level),
                "acknowledge_within": acknowledge_within,
            },
        )
        if not created:
            return escalation
        _enter_level(escalation, level, timezone.now())
    return escalation


def _enter_level(escalation: Escalation, level: int, now: datetime) -> None:
    """Route the escalation at `level` (inbox always; email and Slack/Jira/Linear as
    configured on the product) and set when it rises next."""
    product = escalation.product
    owner = owner_for(product, level)
    escalation.level = level
    escalation.escalate_at = (
        now + timedelta(seconds=escalation.acknowledge_within)
        if level < escalation.max_level
        else None
    )
    title = f"[L{level} {LEVEL_NAMES.get(level, '')}] {escalation.title}"
    body = escalation.guidance if level == 1 and escalation.guidance else escalation.message
    item = InboxItem.objects.create(
        workspace_id=product.workspace_id,
        kind=InboxItem.Kind.NOTIFICATION if level == 1 else InboxItem.Kind.TASK,
        channel="inbox",
        title=title[:500],
        body=f"{body}\n\nAcknowledge: POST /api/v1/escalations/{escalation.pk}/acknowledge",
        assignee=owner,
        run_id=escalation.run_id,
    )
    escalation.inbox_items.add(item)
    entry = {"level": level, "at": now.isoformat(), "to": owner, "channels": ["inbox"]}
    escalation.history = [*escalation.history, entry]
    escalation.save()
    pk = escalation.pk
    # Outside channels only after commit, and never inside the row's transaction.
    transaction.on_commit(lambda: _notify_channels(pk, level))


def _notify_channels(escalation_id: int, level: int) -> None:
    """Send the level to its outside channels (no lock held: they may take seconds),
    then add the ones that took it to the level's history entry under the row's
    lock, re-read: a level raised meanwhile is kept, not overwritten."""
    from .channels import notify

    escalation = Escalation.objects.select_related("product").get(pk=escalation_id)
    sent = notify(escalation, level, owner_for(escalation.product, level))
    if not sent:
        return
    with transaction.atomic():
        locked = Escalation.objects.select_for_update().get(pk=escalation_id)
        history = [dict(entry) for entry in locked.history]
        for entry in reversed(history):
            if entry.get("level") == level:
                entry["channels"] = [*entry.get("channels", []), *sent]
                break
        locked.history = history
        locked.save(update_fields=["history"])


def raise_overdue_escalations(now: datetime | None = None) -> int:
    """Beat: every open escalation not acknowledged in time goes up one level."""
    now = now or timezone.now()
    raised = 0
    with transaction.atomic():
        due = list(
            Escalation.objects.select_for_update(skip_locked=True)
            .select_related("product")
            .filter(status=Escalation.Status.OPEN, escalate_at__lte=now)
            .order_by("escalate_at")[:100]
        )
        for escalation in due:
            if escalation.level >= escalation.max_level:
                escalation.escalate_at = None
                escalation.save(update_fields=["escalate_at"])
                continue
            _enter_level(escalation, escalation.level + 1, now)
            raised += 1
    return raised


def acknowledge(escalation: Escalation, *, by: str) -> Escalation:
    """Stop the escalation rising (compare-and-set on open); its inbox items are done."""
    with transaction.atomic():
        changed = Escalation.objects.filter(pk=escalation.pk, status=Escalation.Status.OPEN).update(
            status=Escalation.Status.ACKNOWLEDGED,
            acknowledged_at=timezone.now(),
            acknowledged_by=by[:200],
            escalate_at=None,
        )
        if changed:
            # Its own inbox items only (one per level reached), not the run's others
            # (an action.task of the same run is someone else's work).
            escalation.inbox_items.update(done=True)
    escalation.refresh_from_db()
    return escalation


# ---------------------------------------------------------------- product schedules


def fire_product_schedules(now: datetime | None = None) -> int:
    """Beat: each due trigger.product_schedule starts one run per product it covers."""
    from automation.nodes.triggers import trigger_class

    from .nodes import PRODUCT_SCHEDULE

    now = now or timezone.now()
    started = 0
    with transaction.atomic():
        due = list(
            TriggerBinding.objects.filter(
                trigger_type__in=trigger_types(PRODUCT_SCHEDULE),
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
            products = Product.objects.filter(workspace_id=binding.workspace_id)
            if binding.config.get("product"):
                products = products.filter(pk=binding.config["product"])
            runs = []
            for product in products.select_related("subject"):
                event = Event.objects.create(
                    workspace_id=product.workspace_id,
                    type="product.schedule",
                    contact=product.subject,
                    seq=reserve_event_seq(product.subject_id),
                    data={
                        "product": product.snapshot(),
                        "metric": "schedule",
                        "metrics": product.metrics,
                    },
                    occurred_at=now,
                )
                runs.append(
                    Run(
                        workspace_id=product.workspace_id,
                        workflow_id=binding.deployment_id,
                        version_id=binding.deployment.version_id,
                        contact_id=product.subject_id,
                        product=product,
                        trigger_event=event,
                        events_after=event.seq,
                        trigger_node=binding.node_id,
                        current_node=binding.node_id,
                        queued_at=now,
                    )
                )
            Run.objects.bulk_create(runs)
            enqueue_runs(run.pk for run in runs)
            started += len(runs)
    return started
