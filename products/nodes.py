"""Product node types, registered into the one catalogue from ProductsConfig.ready().

Triggers: `trigger.feature_adoption` and `trigger.product_health` start a
product-subject run once per band entered (products/services.py computes
bands with hysteresis and fires crossings); `trigger.product_signal` is
fired from outside (performance-optimization, market-opportunity);
`trigger.product_schedule` runs a product-level workflow on a cron or
interval (the weekly summary). Their activation is "product": event ingest,
contact changes and the contact schedules sweep never look at them.

Actions: `action.escalate` opens a levelled escalation to the product's
owners; `action.enroll_product_contacts` enrols an audience of the product
into a contact workflow. Both write through products/services.py as their
outside call: the engine commits a running step first, calls with no lock
held and records the answer, and the call carries the step's idempotency key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from automation.nodes.base import (
    ConfigIssue,
    NodeContext,
    NodeResult,
    NodeType,
    PermanentNodeError,
)
from automation.nodes.triggers import ScheduleTrigger, TriggerNode
from automation.rules import DURATION_SCHEMA, to_timedelta
from automation.templating import render_field, template_issues

from .activation import PRODUCT, PRODUCT_SCHEDULE
from .models import ADOPTION_BANDS, FEATURE_ADOPTION, HEALTH_BANDS, PRODUCT_HEALTH

PRODUCT_FIELD: dict[str, Any] = {
    "type": "integer",
    "minimum": 1,
    "title": "Product",
    "description": "Only this product (its id). Leave empty for every product of the workspace.",
}


def _event_product(ctx: NodeContext) -> int | None:
    product = ((ctx.event or {}).get("data") or {}).get("product")
    if isinstance(product, Mapping):
        product = product.get("id")
    return product if isinstance(product, int) else None


def run_product(ctx: NodeContext) -> int:
    """The product a node acts on: its config's, else the run's (from its trigger event)."""
    product = ctx.config.get("product") or _event_product(ctx)
    if not product:
        raise PermanentNodeError(
            "product: this run has no product (start it from a product trigger or set a product)"
        )
    return int(product)


class ProductTrigger(TriggerNode):
    activation = PRODUCT
    metric: ClassVar[str] = ""
    bands: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def binding_key(cls, config: Mapping[str, Any]) -> str:
        return str(config.get("band") or config.get("signal") or "any")

    @classmethod
    def matches_crossing(cls, config: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
        """Whether a crossing (its event data) starts this trigger's workflow."""
        if data.get("metric") != cls.metric:
            return False
        product = config.get("product")
        if product and (data.get("product") or {}).get("id") != product:
            return False
        band = config.get("band", "any")
        return band in ("any", data.get("band"))

    def run(self, ctx: NodeContext) -> NodeResult:
        data = (ctx.event or {}).get("data") or {}
        return NodeResult(
            output={
                "product": data.get("product"),
                "band": data.get("band"),
                "previous_band": data.get("previous_band"),
                "value": data.get("value"),
                "feature": data.get("feature"),
            }
        )


class FeatureAdoptionTrigger(ProductTrigger):
    type = "trigger.feature_adoption"
    metric = FEATURE_ADOPTION
    bands = ADOPTION_BANDS
    label = "Feature adoption band"
    summary = "Adoption enters {band:enum}[ ({feature})]"
    description = (
        "Starts once each time a feature's adoption enters a band: low (under 20 %), "
        "medium (20-60 %), high (60-80 %) or growth (80 % and more). Runs for the product."
    )
    config_schema = {
        "type": "object",
        "properties": {
            "band": {
                "enum": ["any", *ADOPTION_BANDS],
                "enumNames": ["Any band", "Low", "Medium", "High", "Growth"],
                "title": "Band entered",
                "default": "any",
            },
            "feature": {
                "type": "string",
                "title": "Feature",
                "description": "Only this feature (its key). Leave empty for every feature.",
            },
            "product": PRODUCT_FIELD,
        },
        "required": ["band"],
        "additionalProperties": False,
    }

    @classmethod
    def matches_crossing(cls, config: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
        feature = config.get("feature")
        if feature and (data.get("feature") or {}).get("key") != feature:
            return False
        return super().matches_crossing(config, data)


class ProductHealthTrigger(ProductTrigger):
    type = "trigger.product_health"
    metric = PRODUCT_HEALTH
    bands = HEALTH_BANDS
    label = "Product health band"
    summary = "Health enters {band:enum}"
    description = (
        "Starts once each time the product's health score enters a band: critical "
        "(under 40), declining (40-60), stable (60-80) or optimal (80 and more)."
    )
    config_schema = {
        "type": "object",
        "properties": {
            "band": {
                "enum": ["any", *HEALTH_BANDS],
                "enumNames": ["Any band", "Critical", "Declining", "Stable", "Optimal"],
                "title": "Band entered",
                "default": "any",
            },
            "product": PRODUCT_FIELD,
        },
        "required": ["band"],
        "additionalProperties": False,
    }


SIGNALS = ("performance_optimization", "market_opportunity")


class ProductSignalTrigger(ProductTrigger):
    type = "trigger.product_signal"
    label = "Product signal"
    summary = "Signal: {signal:enum}"
    description = (
        "Starts when your tools report a performance-optimization or market-opportunity "
        "signal for a product (POST /api/v1/automation/triggers/...)."
    )
    config_schema = {
        "type": "object",
        "properties": {
            "signal": {
                "enum": list(SIGNALS),
                "enumNames": ["Performance optimization", "Market opportunity"],
                "title": "Signal",
                "default": "performance_optimization",
            },
            "product": PRODUCT_FIELD,
        },
        "required": ["signal"],
        "additionalProperties": False,
    }

    @classmethod
    def matches_crossing(cls, config: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
        product = config.get("product")
        if product and (data.get("product") or {}).get("id") != product:
            return False
        return data.get("metric") == config.get("signal")


class ProductScheduleTrigger(TriggerNode):
    """A product-level schedule: one run per product (or the one product set) per tick."""

    type = "trigger.product_schedule"
    activation = PRODUCT_SCHEDULE
    label = "Product schedule"
    summary = "Each product[ {cron}][ every {interval:duration}]"
    description = (
        "Runs for each product on a schedule, e.g. every Monday at 9:00 for a weekly summary "
        "(the product's latest metrics are in event.data.metrics)."
    )
    config_schema = {
        "type": "object",
        "properties": {
            **{
                name: schema
                for name, schema in ScheduleTrigger.config_schema["properties"].items()
                if name in ("cron", "interval", "timezone")
            },
            "product": PRODUCT_FIELD,
        },
        "required": [],
        "additionalProperties": False,
    }

    @classmethod
    def first_fire(cls, config, now):
        return ScheduleTrigger.first_fire(config, now)

    @classmethod
    def next_fire(cls, config, after):
        return ScheduleTrigger.next_fire(config, after)

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return ScheduleTrigger.check_config(config)

    run = ProductTrigger.run


# ---------------------------------------------------------------- actions


class EscalateAction(NodeType):
    type = "action.escalate"
    label = "Escalate"
    category = "action"
    summary = "Escalate: level {level}"
    description = (
        "Escalates to the product's owners: level 1 automated guidance, 2 the product "
        "manager, 3 the executive (inbox, email and the product's Slack/Jira/Linear). "
        "Not acknowledged in time, it rises to the next level."
    )
    has_side_effects = True
    template_fields = ("title", "message", "guidance")
    config_schema = {
        "type": "object",
        "properties": {
            "level": {
                "enum": [1, 2, 3],
                "enumNames": ["1: automated guidance", "2: product manager", "3: executive"],
                "title": "Start at level",
                "default": 2,
            },
            "max_level": {
                "enum": [1, 2, 3],
                "title": "Rise up to level",
                "default": 3,
            },
            "acknowledge_within": {
                **DURATION_SCHEMA,
                "title": "Raise a level when not acknowledged within",
            },
            "title": {
                "type": "string",
                "minLength": 1,
                "title": "Title",
                "description": "Can use templates, e.g. {{ event.data.product.name }} is critical.",
            },
            "message": {"type": "string", "title": "Message", "format": "textarea"},
            "guidance": {
                "type": "string",
                "title": "Guidance (level 1)",
                "format": "textarea",
            },
            "product": {
                **PRODUCT_FIELD,
                "description": "Leave empty for the run's product.",
            },
        },
        "required": ["level", "title", "acknowledge_within"],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        issues = template_issues(config, cls.template_fields)
        if config.get("max_level", 3) < config["level"]:
            issues.append(ConfigIssue("max_level", "must be at least the starting level", "range"))
        return issues

    def run(self, ctx: NodeContext) -> NodeResult:
        from . import services

        data = ctx.data
        title = render_field("title", ctx.config["title"], data).strip() or "Escalation"
        message = render_field("message", ctx.config.get("message", ""), data)
        guidance = render_field("guidance", ctx.config.get("guidance", ""), data)
        level = int(ctx.config["level"])
        within = ctx.config["acknowledge_within"]
        seconds = int(to_timedelta(within["amount"], within["unit"]).total_seconds())
        if ctx.dry_run:
            return NodeResult(output={"dry_run": True, "would": {"level": level, "title": title}})
        product_id = run_product(ctx)
        try:
            escalation = services.open_escalation(
                product_id=product_id,
                workspace_id=ctx.workspace_id,
                idempotency_key=ctx.idempotency_key,
                run_id=ctx.run_id,
                title=title,
                message=message,
                guidance=guidance,
                level=level,
                max_level=int(ctx.config.get("max_level", 3)),
                acknowledge_within=max(1, seconds),
            )
        except LookupError as error:
            raise PermanentNodeError(f"product: {error}") from error
        return NodeResult(
            output={
                "escalation": escalation.pk,
                "level": escalation.level,
                "to": services.owner_for(escalation.product, escalation.level),
                "title": title,
            }
        )


class EnrollProductContactsAction(NodeType):
    type = "action.enroll_product_contacts"
    label = "Enrol product users"
    category = "action"
    summary = "Enrol {audience:enum}[ of {feature}]"
    description = (
        "Enrols a product's contacts in a contact workflow, e.g. the target users who "
        "have not used the feature yet into an education series."
    )
    has_side_effects = True
    config_schema = {
        "type": "object",
        "properties": {
            "workflow": {
                "type": "string",
                "minLength": 1,
                "title": "Workflow",
                "description": "The contact workflow to start for each of them.",
            },
            "audience": {
                "enum": ["non_users", "users", "target", "active"],
                "enumNames": [
                    "Target users who have not used the feature",
                    "Target users who used the feature",
                    "The feature's whole target audience",
                    "The product's active users",
                ],
                "title": "Who",
                "default": "non_users",
            },
            "feature": {
                "type": "string",
                "title": "Feature",
                "description": "Its key. Leave empty for the feature whose band was entered.",
            },
            "product": {**PRODUCT_FIELD, "description": "Leave empty for the run's product."},
        },
        "required": ["workflow", "audience"],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        try:
            uuid.UUID(str(config["workflow"]))
        except ValueError:
            return [ConfigIssue("workflow", "choose a workflow (its id is a UUID)", "workflow")]
        return []

    def run(self, ctx: NodeContext) -> NodeResult:
        from . import services

        audience = ctx.config["audience"]
        feature = ctx.config.get("feature") or (
            (((ctx.event or {}).get("data") or {}).get("feature")) or {}
        ).get("key", "")
        if audience != "active" and not feature:
            raise PermanentNodeError("feature: name the feature (this run entered no feature band)")
        if ctx.dry_run:
            return NodeResult(
                output={"dry_run": True, "would": {"audience": audience, "feature": feature}}
            )
        try:
            result = services.enrol_product_contacts(
                product_id=run_product(ctx),
                workspace_id=ctx.workspace_id,
                workflow_id=str(ctx.config["workflow"]),
                feature_key=feature,
                audience=audience,
            )
        except LookupError as error:
            raise PermanentNodeError(str(error)) from error
        return NodeResult(output={**result, "feature": feature})


NODE_TYPES = [
    FeatureAdoptionTrigger,
    ProductHealthTrigger,
    ProductSignalTrigger,
    ProductScheduleTrigger,
    EscalateAction,
    EnrollProductContactsAction,
]
