"""Product metrics: set-based aggregate queries over the product's usage rollup
(products/rollup.py), and the documented health-score formula (docs/products.md).

`compute(product, now)` reads; it writes nothing. The formula functions are
pure so a test can check them against hand-computed values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Lookup, Sum
from django.db.models.fields.json import DataContains
from django.db.models.functions import Coalesce

from automation.models import Contact

from . import rollup
from .models import FeatureUseDay, Product, UsageDay

USAGE_TYPES = ("feature_used", "session", "error", "nps")


def usage_days(product: Product, now: datetime):
    """The product's rollup rows (a contact's usage on a day) in the window ending now."""
    first, last = rollup.window(product.config["window_days"], now)
    return UsageDay.objects.filter(product=product, day__gte=first, day__lte=last)


def feature_use_days(product: Product, now: datetime):
    """The product's feature uses (a contact used a feature on a day) in the window."""
    first, last = rollup.window(product.config["window_days"], now)
    return FeatureUseDay.objects.filter(product=product, day__gte=first, day__lte=last)


class HasTag(Lookup):
    """A JSON list of strings (a contact's `tags`) holds one string: one set-based
    condition on both databases. PostgreSQL: `tags @> '["beta"]'` (Django's
    `tags__contains`). SQLite has no containment operator and Django refuses
    `__contains` on a JSONField there, so it looks through the list with
    `json_each`, element by element, never matching a tag that merely looks alike."""

    lookup_name = "has_tag"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        return compiler.compile(DataContains(self.lhs, [self.rhs]))

    def as_sqlite(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        return (
            f"EXISTS (SELECT 1 FROM json_each({lhs}) AS tag WHERE tag.value = %s)",
            [*params, self.rhs],
        )


def tagged(tag: str) -> HasTag:
    """`Contact.objects.filter(tagged("beta"))`: the contacts with that tag."""
    return HasTag(F("tags"), tag)


def adoption_percent(users: int, target: int) -> float | None:
    if target <= 0:
        return None
    return round(min(100.0, 100.0 * users / target), 1)


def nps(promoters: int, detractors: int, responses: int) -> float | None:
    """Net promoter score, -100..100: % promoters (9-10) minus % detractors (0-6)."""
    if responses <= 0:
        return None
    return round(100.0 * (promoters - detractors) / responses, 1)


def components(
    *,
    adoptions: list[float],
    active_users: int,
    sessions: int,
    errors: int,
    usage: int,
    nps_score: float | None,
    engagement_target_sessions: float,
) -> dict[str, float | None]:
    """Each input of the health score on a 0-100 scale; None when there is no data for it."""
    engagement = None
    if active_users > 0:
        per_user = sessions / active_users
        engagement = min(100.0, 100.0 * per_user / engagement_target_sessions)
    return {
        "adoption": sum(adoptions) / len(adoptions) if adoptions else None,
        "engagement": engagement,
        "reliability": 100.0 * (1 - errors / usage) if usage else None,
        "nps": (nps_score + 100.0) / 2 if nps_score is not None else None,
    }


def health_score(parts: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """Σ weight·component / Σ weight, over the components that have data (0-100)."""
    total = sum(weights.get(name, 0) for name, value in parts.items() if value is not None)
    if total <= 0:
        return None
    score = sum(weights.get(name, 0) * value for name, value in parts.items() if value is not None)
    return round(score / total, 1)


def compute(product: Product, now: datetime) -> dict[str, Any]:
    """The product's metrics now: per feature adoption, and the product-level figures."""
    config = product.config
    totals = usage_days(product, now).aggregate(
        usage=Coalesce(Sum("events"), 0),
        active_users=Count("contact", distinct=True),
        sessions=Coalesce(Sum("sessions"), 0),
        errors=Coalesce(Sum("errors"), 0),
        nps_responses=Coalesce(Sum("nps_responses"), 0),
        promoters=Coalesce(Sum("promoters"), 0),
        detractors=Coalesce(Sum("detractors"), 0),
    )
    used = feature_use_days(product, now)
    users_by_feature = {
        row["feature_key"]: row["users"]
        for row in used.values("feature_key").annotate(users=Count("contact", distinct=True))
    }
    features: dict[str, Any] = {}
    for feature in product.features.all():
        if feature.target_tag:
            audience = Contact.objects.filter(
                workspace_id=product.workspace_id,
                is_preview=False,
            ).filter(tagged(feature.target_tag))
            target = audience.count()
            users = (
                used.filter(feature_key=feature.key, contact__in=audience)
                .values("contact")
                .distinct()
                .count()
            )
        else:
            target = feature.target_size or totals["active_users"]
            users = users_by_feature.get(feature.key, 0)
        features[feature.key] = {
            "name": feature.name or feature.key,
            "users": users,
            "target": target,
            "adoption": adoption_percent(users, target),
        }
    nps_score = nps(totals["promoters"], totals["detractors"], totals["nps_responses"])
    parts = components(
        adoptions=[f["adoption"] for f in features.values() if f["adoption"] is not None],
        active_users=totals["active_users"],
        sessions=totals["sessions"],
        errors=totals["errors"],
        usage=totals["usage"],
        nps_score=nps_score,
        engagement_target_sessions=float(config["engagement_target_sessions"]),
    )
    return {
        "computed_at": now.isoformat(),
        "window_days": int(config["window_days"]),
        "active_users": totals["active_users"],
        "usage_events": totals["usage"],
        "sessions": totals["sessions"],
        "engagement": round(totals["sessions"] / totals["active_users"], 2)
        if totals["active_users"]
        else None,
        "errors": totals["errors"],
        "error_rate": round(100.0 * totals["errors"] / totals["usage"], 2)
        if totals["usage"]
        else None,
        "nps": nps_score,
        "components": {k: (round(v, 1) if v is not None else None) for k, v in parts.items()},
        # No usage at all in the window: nothing to score (and no health band entered).
        "health_score": health_score(parts, config["weights"]) if totals["usage"] else None,
        "features": features,
    }


# ---------------------------------------------------------------- bands


def band_of(value: float, edges: list[float], names: tuple[str, ...]) -> str:
    """The band `value` lies in: below edges[0] is names[0], from edges[i-1] names[i]."""
    index = sum(1 for edge in edges if value >= edge)
    return names[index]


def next_band(
    current: str | None, value: float, edges: list[float], names: tuple[str, ...], margin: float
) -> str:
    """The band after `value`, with hysteresis.

    The plain band of `value` is entered only when `value` is at least
    `margin` past every edge between it and the current band: rising past
    edge e needs value ≥ e + margin, falling below it needs value < e - margin.
    A value wobbling within `margin` of an edge stays in the band it was in.
    """
    plain = band_of(value, edges, names)
    if current is None or current not in names or plain == current:
        return plain
    here = names.index(current)
    if names.index(plain) > here:
        # Rising: go as far up as the margin allows.
        while here < len(edges) and value >= edges[here] + margin:
            here += 1
    else:
        while here > 0 and value < edges[here - 1] - margin:
            here -= 1
    return names[here]
