"""The usage rollup the metrics read: per (product, contact, day) counts and per
(product, feature, contact, day) uses, days in UTC.

It is kept where events are stored: automation's ingest sends `events_stored`
inside each batch's transaction (whatever path the batch came by: the
product endpoint, POST /api/v1/events, the queued intake), and `record()`
adds the batch's product usage with one `INSERT … ON CONFLICT DO UPDATE` per
table (PostgreSQL and SQLite alike), so the rollup commits with the events or
not at all. A computation then reads at most a row per active contact and
day of the window instead of every event in it.

What counts as usage is checked once, here, as the product endpoint checks
it (`usage_issue`): an event naming a product of the workspace in
`data.product` (its id), a `feature_used` naming one of its features, an
`nps` with a score from 0 to 10. Anything else is an ordinary event only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection

from .models import Feature, FeatureUseDay, Product, UsageDay

USAGE_COUNTS = ("events", "sessions", "errors", "nps_responses", "promoters", "detractors")
ROWS_PER_STATEMENT = 500


def usage_issue(
    event_type: str, data: Mapping[str, Any], feature_keys: Iterable[str]
) -> tuple[str, str] | None:
    """(field, message) when an event sent as a product's usage cannot count as it."""
    feature = data.get("feature")
    if event_type == "feature_used" and (
        not isinstance(feature, str) or feature not in set(feature_keys)
    ):
        return "feature", f"must be one of this product's features: {sorted(feature_keys)}"
    if event_type == "nps":
        score = data.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 10:
            return "score", "a number from 0 to 10"
    return None


def product_of(data: Mapping[str, Any]) -> int | None:
    product = data.get("product") if isinstance(data, Mapping) else None
    return product if isinstance(product, int) and not isinstance(product, bool) else None


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def window(window_days: int, now: datetime) -> tuple[date, date]:
    """The days a computation at `now` covers: today (UTC) and the days before it."""
    last = day_of(now)
    return last - timedelta(days=int(window_days) - 1), last


def record(workspace_id: int, events: Sequence[Any]) -> set[int]:
    """Add the product usage among these stored events to the rollup; the products it
    counted for (to mark for recomputation)."""
    wanted = {product_of(e.data) for e in events} - {None}
    if not wanted:
        return set()
    products = set(
        Product.objects.filter(workspace_id=workspace_id, pk__in=wanted).values_list(
            "pk", flat=True
        )
    )
    keys: dict[int, set[str]] = defaultdict(set)
    for product_id, key in Feature.objects.filter(product_id__in=products).values_list(
        "product_id", "key"
    ):
        keys[product_id].add(key)
    usage: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(USAGE_COUNTS))
    uses: dict[tuple, list[int]] = defaultdict(lambda: [0])
    counted = set()
    for event in events:
        product = product_of(event.data)
        if product not in products or usage_issue(event.type, event.data, keys[product]):
            continue
        counted.add(product)
        day = day_of(event.occurred_at)
        row = usage[(product, event.contact_id, day)]
        row[0] += 1
        row[1] += event.type == "session"
        row[2] += event.type == "error"
        if event.type == "nps":
            row[3] += 1
            row[4] += event.data["score"] >= 9
            row[5] += event.data["score"] <= 6
        if event.type == "feature_used":
            uses[(product, event.data["feature"], event.contact_id, day)][0] += 1
    _add(UsageDay, ("product_id", "contact_id", "day"), USAGE_COUNTS, usage)
    _add(FeatureUseDay, ("product_id", "feature_key", "contact_id", "day"), ("uses",), uses)
    return counted


def _add(model, keys: tuple[str, ...], counts: tuple[str, ...], rows: dict[tuple, list[int]]):
    """Upsert rows, adding their counts to those already there (in key order, so two
    batches never wait for each other in opposite orders)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(c) for c in (*keys, *counts))
    additions = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in counts)
    width = len(keys) + len(counts)
    with connection.cursor() as cursor:
        ordered = sorted(rows.items())
        for start in range(0, len(ordered), ROWS_PER_STATEMENT):
            chunk = ordered[start : start + ROWS_PER_STATEMENT]
            values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
            params: list[Any] = []
            for key, values_of_row in chunk:
                params += [
                    connection.ops.adapt_datefield_value(v) if isinstance(v, date) else v
                    for v in key
                ]
                params += values_of_row
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values} "
                f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO UPDATE SET {additions}",
                params,
            )
