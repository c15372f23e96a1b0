"""Products, their features, metrics history, band states and escalations.

A product is workspace-scoped. Its usage events are ordinary automation
Events (stored through automation's ingest) whose `data.product` is the
product's id; metrics are computed from them set-based (products/metrics.py).

A run whose subject is a product (`Run.product`) runs for the product's
`subject` contact: a contact row no event, list, segment or schedule ever
reaches (`Contact.is_preview`), so the engine needs no second kind of run.
"""

from __future__ import annotations

from django.db import models

ADOPTION_BANDS = ("low", "medium", "high", "growth")
HEALTH_BANDS = ("critical", "declining", "stable", "optimal")

FEATURE_ADOPTION = "feature_adoption"
PRODUCT_HEALTH = "product_health"
METRICS = ((FEATURE_ADOPTION, "Feature adoption"), (PRODUCT_HEALTH, "Product health"))

# PUT /configuration merges into these; docs/products.md explains each.
DEFAULT_CONFIGURATION: dict = {
    "window_days": 30,
    "weights": {"adoption": 0.35, "engagement": 0.25, "reliability": 0.25, "nps": 0.15},
    "engagement_target_sessions": 10,
    "adoption_bands": [20, 60, 80],
    "health_bands": [40, 60, 80],
    "hysteresis": 2,
    "escalation": {"email": True},
}


class Product(models.Model):
    workspace = models.ForeignKey("builder.Workspace", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Owners, by email: who escalations reach (level 2: the manager, level 3: the executive).
    manager_email = models.EmailField(max_length=254, blank=True)
    executive_email = models.EmailField(max_length=254, blank=True)
    configuration = models.JSONField(default=dict, blank=True)
    # The contact a product-subject run runs for (never a real audience member).
    subject = models.OneToOneField(
        "automation.Contact", on_delete=models.PROTECT, related_name="subject_of", editable=False
    )
    # The latest metrics (GET /metrics) and when usage changed since they were computed.
    metrics = models.JSONField(default=dict, blank=True)
    metrics_at = models.DateTimeField(null=True, blank=True)
    dirty_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Marked by the periodic full pass (the window moves on): recompute after the dirty ones.
    stale_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="one_product_per_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def config(self) -> dict:
        """The configuration with the defaults filled in."""
        merged = {**DEFAULT_CONFIGURATION, **(self.configuration or {})}
        merged["weights"] = {
            **DEFAULT_CONFIGURATION["weights"],
            **((self.configuration or {}).get("weights") or {}),
        }
        return merged

    def snapshot(self) -> dict:
        """The product as crossing events carry it (`event.data.product`)."""
        return {
            "id": self.pk,
            "name": self.name,
            "manager_email": self.manager_email,
            "executive_email": self.executive_email,
        }


class Feature(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="features")
    key = models.SlugField(max_length=100, help_text="What usage events name in data.feature.")
    name = models.CharField(max_length=200, blank=True)
    # The target audience: contacts with this tag, or a number of users. Neither:
    # the product's active users in the window.
    target_tag = models.CharField(max_length=100, blank=True)
    target_size = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["product", "key"], name="one_feature_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.product}: {self.key}"


class MetricPoint(models.Model):
    """One day of a product's metrics (the last computation of that day)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="points")
    day = models.DateField()
    metrics = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product", "day"]
        constraints = [models.UniqueConstraint(fields=["product", "day"], name="one_point_per_day")]

    def __str__(self) -> str:
        return f"{self.product} on {self.day}"


class BandState(models.Model):
    """The band a metric is in now; `feature_key` is empty for product health."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="band_states")
    metric = models.CharField(max_length=30, choices=METRICS)
    feature_key = models.CharField(max_length=100, blank=True)
    band = models.CharField(max_length=30)
    value = models.FloatField(null=True)
    entered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "metric", "feature_key"], name="one_band_state"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.metric}:{self.feature_key} in {self.band}"


class BandCrossing(models.Model):
    """A band entered: the unit band triggers fire once for.

    `event` is the stored automation Event the runs it started carry as
    their trigger event, so the runs of a crossing are
    `Run.objects.filter(trigger_event=crossing.event)`.
    """

    class Source(models.TextChoices):
        METRICS = "metrics", "Computed metrics"
        API = "api", "Fired through the API"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="crossings")
    metric = models.CharField(max_length=40)
    feature_key = models.CharField(max_length=100, blank=True)
    from_band = models.CharField(max_length=30, blank=True)
    to_band = models.CharField(max_length=40)
    value = models.FloatField(null=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.METRICS)
    event = models.OneToOneField(
        "automation.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        what = f"{self.metric}:{self.feature_key}" if self.feature_key else self.metric
        return f"{self.product} {what} → {self.to_band}"


class Escalation(models.Model):
    """An escalation opened by action.escalate; raised a level when not acknowledged in time."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="escalations")
    # The visit of the node that opened it: a redelivered step opens nothing twice.
    idempotency_key = models.CharField(max_length=200, unique=True)
    run = models.ForeignKey(
        "automation.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=500)
    message = models.TextField(blank=True)
    guidance = models.TextField(blank=True)
    level = models.PositiveSmallIntegerField()
    max_level = models.PositiveSmallIntegerField(default=3)
    acknowledge_within = models.PositiveIntegerField(help_text="Seconds before the next level.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    # When the current level times out (null: at the top level, or acknowledged).
    escalate_at = models.DateTimeField(null=True, blank=True, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=200, blank=True)
    # Every level reached: [{"level", "at", "to", "channels"}].
    history = models.JSONField(default=list, blank=True)
    # The inbox item of each level reached: what acknowledging marks done.
    inbox_items = models.ManyToManyField("automation.InboxItem", related_name="+", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"L{self.level} {self.title} ({self.status})"


class UsageDay(models.Model):
    """One contact's usage of a product on one day (UTC): the rollup metrics read.

    Kept up to date where events are stored (products/rollup.py adds each
    batch's counts with one upsert), so a computation never rescans events.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("automation.Contact", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    events = models.PositiveIntegerField(default=0)
    sessions = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    nps_responses = models.PositiveIntegerField(default=0)
    promoters = models.PositiveIntegerField(default=0)
    detractors = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "contact", "day"], name="one_usage_day_per_contact"
            )
        ]
        indexes = [models.Index(fields=["product", "day"], name="usage_day_by_product")]

    def __str__(self) -> str:
        return f"{self.product_id}/{self.contact_id} on {self.day}"


class FeatureUseDay(models.Model):
    """A contact used a feature of a product on a day (UTC), `uses` times."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    feature_key = models.CharField(max_length=100)
    contact = models.ForeignKey("automation.Contact", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    uses = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "feature_key", "contact", "day"], name="one_feature_use_day"
            )
        ]
        indexes = [models.Index(fields=["product", "day"], name="feature_day_by_product")]

    def __str__(self) -> str:
        return f"{self.product_id}/{self.contact_id} used {self.feature_key} on {self.day}"
