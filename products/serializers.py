"""Request and response shapes of the products API."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from builder.api.errors import Conflict
from builder.api.serializers_events import EventSerializer

from .models import ADOPTION_BANDS, DEFAULT_CONFIGURATION, HEALTH_BANDS, Feature, Product
from .rollup import usage_issue

WEIGHT_NAMES = tuple(DEFAULT_CONFIGURATION["weights"])


@extend_schema_field(
    {"type": "string", "maxLength": 254, "anyOf": [{"format": "email"}, {"enum": [""]}]}
)
class BlankOrEmailField(serializers.CharField):
    """An owner's email, or "" for none: the schema says both (format email alone refused "")."""

    def __init__(self, **kwargs):
        super().__init__(max_length=254, allow_blank=True, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value:
            try:
                validate_email(value)
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.messages) from None
        return value


class FeatureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Feature
        fields = ["id", "key", "name", "target_tag", "target_size"]
        read_only_fields = ["id"]
        # Uniqueness per product is checked by the view (the product is in the URL).
        validators: list = []


class ProductSerializer(serializers.ModelSerializer):
    features = FeatureSerializer(many=True, read_only=True)
    configuration = serializers.SerializerMethodField()
    manager_email = BlankOrEmailField(read_only=True)
    executive_email = BlankOrEmailField(read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "name",
            "description",
            "manager_email",
            "executive_email",
            "features",
            "configuration",
            "metrics_at",
            "created_at",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_configuration(self, product: Product) -> dict:
        return product.config


class ProductWriteSerializer(serializers.ModelSerializer):
    features = FeatureSerializer(many=True, required=False)
    manager_email = BlankOrEmailField(required=False)
    executive_email = BlankOrEmailField(required=False)

    class Meta:
        model = Product
        fields = ["name", "description", "manager_email", "executive_email", "features"]

    def validate(self, attrs: dict) -> dict:
        # After every field is valid: a bad field is a 400, a taken name then a 409.
        name = attrs.get("name")
        if name is not None:
            taken = Product.objects.filter(workspace=self.context["request"].workspace, name=name)
            if self.instance is not None:
                taken = taken.exclude(pk=self.instance.pk)
            if taken.exists():
                raise Conflict("name", "a product of this name exists in the workspace")
        return attrs

    def validate_features(self, features: list[dict]) -> list[dict]:
        keys = [f.get("key") for f in features]
        if None in keys:
            raise serializers.ValidationError("each feature needs a key")
        if len(keys) != len(set(keys)):
            raise serializers.ValidationError("feature keys must be unique")
        return features


class ProductUpdateSerializer(ProductWriteSerializer):
    """PATCH /products/{id}: the product's own fields; features change through
    /products/{id}/features, so a `features` field is refused (a 400 naming it),
    never half-read (a feature without its key was a 500)."""

    class Meta(ProductWriteSerializer.Meta):
        fields = ["name", "description", "manager_email", "executive_email"]

    def validate(self, attrs: dict) -> dict:
        if "features" in self.initial_data:
            raise serializers.ValidationError(
                {"features": ["change features through /products/{id}/features"]}
            )
        return super().validate(attrs)


class FeatureWriteSerializer(FeatureSerializer):
    def validate(self, attrs: dict) -> dict:
        product = self.context["product"]
        key = attrs.get("key")
        if key is not None:
            taken = Feature.objects.filter(product=product, key=key)
            if self.instance is not None:
                taken = taken.exclude(pk=self.instance.pk)
            if taken.exists():
                raise Conflict("key", "this product has that feature")
        return attrs


def _edges(name: str):
    def check(value: Any) -> list[float]:
        if (
            not isinstance(value, list)
            or len(value) != 3
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise serializers.ValidationError(f"{name}: three numbers, e.g. [20, 60, 80]")
        if not all(0 <= v <= 100 for v in value) or not value[0] < value[1] < value[2]:
            raise serializers.ValidationError(f"{name}: increasing numbers from 0 to 100")
        return [float(v) for v in value]

    return check


class SlackRouteSerializer(serializers.Serializer):
    connection = serializers.IntegerField()
    channel = serializers.CharField(max_length=200)


ESCALATION_LEVELS = ("L1", "L2", "L3")


class IssueRouteSerializer(serializers.Serializer):
    """Filed as the tracker's node files: what is left empty comes from the connection."""

    connection = serializers.IntegerField()
    assignee = serializers.CharField(max_length=200, required=False, allow_blank=True)
    # Who gets the issue at each level ({"L2": "pm@…", "L3": "cto@…"}), else `assignee`.
    assignees = serializers.DictField(
        child=serializers.CharField(max_length=200, allow_blank=True), required=False
    )

    def validate_assignees(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(ESCALATION_LEVELS))
        if unknown:
            raise serializers.ValidationError(
                f"levels are {', '.join(ESCALATION_LEVELS)}; not {', '.join(unknown)}"
            )
        return value


class JiraRouteSerializer(IssueRouteSerializer):
    project = serializers.CharField(max_length=100, required=False, allow_blank=True)
    issue_type = serializers.CharField(max_length=100, required=False, default="Task")


class LinearRouteSerializer(IssueRouteSerializer):
    team_id = serializers.CharField(max_length=100, required=False, allow_blank=True)


class EscalationRoutesSerializer(serializers.Serializer):
    email = serializers.BooleanField(required=False, default=True)
    slack = SlackRouteSerializer(required=False)
    jira = JiraRouteSerializer(required=False)
    linear = LinearRouteSerializer(required=False)

    def validate(self, attrs: dict) -> dict:
        from integrations.models import Connection

        workspace = self.context["workspace"]
        for provider in ("slack", "jira", "linear"):
            route = attrs.get(provider)
            if route is None:
                continue
            exists = Connection.objects.filter(
                Q(workspace=workspace, pk=route["connection"], provider=provider)
            ).exists()
            if not exists:
                raise serializers.ValidationError(
                    {provider: {"connection": [f"no {provider} connection of that id here"]}}
                )
        return attrs


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "number", "minimum": 0, "maximum": 100},
        "minItems": 3,
        "maxItems": 3,
        "description": "Three increasing numbers from 0 to 100, e.g. [20, 60, 80].",
    }
)
class BandEdgesField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "properties": {name: {"type": "number", "minimum": 0} for name in WEIGHT_NAMES},
        "additionalProperties": False,
        "description": "Left out: the default weight. At least one weight above 0.",
    }
)
class WeightsField(serializers.DictField):
    pass


class ConfigurationSerializer(serializers.Serializer):
    """PUT /configuration: every field optional; what is left out keeps its default."""

    window_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    weights = WeightsField(child=serializers.FloatField(min_value=0), required=False)
    engagement_target_sessions = serializers.FloatField(min_value=0.01, required=False)
    adoption_bands = BandEdgesField(required=False, validators=[_edges("adoption_bands")])
    health_bands = BandEdgesField(required=False, validators=[_edges("health_bands")])
    hysteresis = serializers.FloatField(min_value=0, max_value=20, required=False)
    escalation = EscalationRoutesSerializer(required=False)

    def to_internal_value(self, data: Any) -> dict:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: [f"unknown setting; use {', '.join(self.fields)}"]}
                )
        return super().to_internal_value(data)

    def validate_weights(self, weights: dict) -> dict:
        unknown = sorted(set(weights) - set(WEIGHT_NAMES))
        if unknown:
            raise serializers.ValidationError(
                f"unknown weight {unknown[0]!r}; use {', '.join(WEIGHT_NAMES)}"
            )
        merged = {**DEFAULT_CONFIGURATION["weights"], **weights}
        if sum(merged.values()) <= 0:
            raise serializers.ValidationError("at least one weight must be above 0")
        return weights


def validate_configuration(data: Any, workspace) -> dict:
    """The one check of a product configuration, for the API's PUT and the admin:
    the settings to store, or a ValidationError naming each bad setting."""
    serializer = ConfigurationSerializer(data=data, context={"workspace": workspace})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def error_lines(detail: Any, prefix: str = "") -> list[str]:
    """A ValidationError's detail as "setting.field: message" lines (the admin shows them)."""
    if isinstance(detail, dict):
        lines = []
        for key, value in detail.items():
            lines += error_lines(value, prefix if key == "non_field_errors" else f"{prefix}{key}.")
        return lines
    if isinstance(detail, list):
        return [line for value in detail for line in error_lines(value, prefix)]
    return [f"{prefix.rstrip('.')}: {detail}" if prefix else str(detail)]


class UsageEventSerializer(EventSerializer):
    """A usage event: feature_used names a feature of the product; nps has a 0-10 score."""

    def validate(self, attrs: dict) -> dict:
        # The one check of what counts as usage (the rollup applies it to events
        # that name the product through POST /api/v1/events too).
        issue = usage_issue(attrs["type"], attrs.get("data") or {}, self.context["feature_keys"])
        if issue:
            field, message = issue
            raise serializers.ValidationError({"data": {field: [message]}})
        return attrs


class UsageBatchSerializer(serializers.Serializer):
    def get_fields(self) -> dict:
        from django.conf import settings

        return {
            "events": serializers.ListSerializer(
                child=UsageEventSerializer(context=self.context),
                allow_empty=False,
                max_length=settings.EVENT_BATCH_MAX,
            )
        }


TRIGGER_KINDS = {
    "feature-adoption": ("feature_adoption", ADOPTION_BANDS),
    "product-health": ("product_health", HEALTH_BANDS),
    "performance-optimization": ("performance_optimization", ()),
    "market-opportunity": ("market_opportunity", ()),
}


class TriggerFireSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    band = serializers.ChoiceField(
        choices=["", *ADOPTION_BANDS, *HEALTH_BANDS],
        required=False,
        default="",
        help_text="feature-adoption: one of the adoption bands; product-health: one of the "
        "health bands; the other kinds: empty.",
    )
    feature = serializers.CharField(required=False, allow_blank=True, default="")
    value = serializers.FloatField(required=False, allow_null=True, default=None)
    payload = serializers.DictField(required=False, default=dict)

    def validate_product(self, product_id: int) -> Product:
        product = Product.objects.filter(
            pk=product_id, workspace=self.context["request"].workspace
        ).first()
        if product is None:
            raise NotFound("product: no product of this id in the workspace")
        return product

    def validate(self, attrs: dict) -> dict:
        _metric, bands = TRIGGER_KINDS[self.context["kind"]]
        if bands and attrs["band"] not in bands:
            raise serializers.ValidationError({"band": [f"must be one of {', '.join(bands)}"]})
        kind = self.context["kind"]
        if (
            kind == "feature-adoption"
            and not attrs["product"].features.filter(key=attrs["feature"]).exists()
        ):
            raise serializers.ValidationError({"feature": ["no feature of this key"]})
        return attrs


class AcknowledgeSerializer(serializers.Serializer):
    by = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


# ---------------------------------------------------------------- answers (documentation)
# What the metric, history, crossing and escalation answers hold, so the schema
# says what is served (a generated client reads them; they were documented as
# a Product before).
def _figure(**kwargs) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, **kwargs)


class FeatureMetricsSerializer(serializers.Serializer):
    name = serializers.CharField()
    users = serializers.IntegerField()
    target = serializers.IntegerField()
    adoption = _figure(help_text="% of the target audience using it in the window.")
    trend = _figure(required=False, help_text="Change in points since the previous figures.")
    band = serializers.CharField(allow_null=True)


class ComponentsSerializer(serializers.Serializer):
    adoption = _figure()
    engagement = _figure()
    reliability = _figure()
    nps = _figure()


class MetricsSerializer(serializers.Serializer):
    computed_at = serializers.DateTimeField()
    window_days = serializers.IntegerField()
    active_users = serializers.IntegerField()
    usage_events = serializers.IntegerField()
    sessions = serializers.IntegerField()
    engagement = _figure()
    errors = serializers.IntegerField()
    error_rate = _figure()
    nps = _figure()
    components = ComponentsSerializer()
    health_score = _figure()
    health_trend = _figure(required=False)
    health_band = serializers.CharField(allow_null=True)
    features = serializers.DictField(child=FeatureMetricsSerializer())


class AnalyticsPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    health_score = _figure(required=False)
    active_users = serializers.IntegerField(required=False)
    engagement = _figure(required=False)
    error_rate = _figure(required=False)
    nps = _figure(required=False)
    features = serializers.DictField(child=_figure(), required=False)


class AnalyticsSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    points = AnalyticsPointSerializer(many=True)


class CrossingRunSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    workflow = serializers.UUIDField()
    workflow_name = serializers.CharField()
    status = serializers.CharField()


class CrossingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    metric = serializers.CharField()
    feature = serializers.CharField(allow_null=True)
    from_band = serializers.CharField(allow_null=True)
    to_band = serializers.CharField()
    value = _figure()
    source = serializers.CharField()
    at = serializers.DateTimeField()
    runs = CrossingRunSerializer(many=True)


class EscalationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.IntegerField()
    run = serializers.UUIDField(allow_null=True)
    title = serializers.CharField()
    level = serializers.IntegerField()
    max_level = serializers.IntegerField()
    status = serializers.CharField()
    escalate_at = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField(allow_blank=True)
    history = serializers.ListField(child=serializers.DictField())


class TriggerStartedSerializer(serializers.Serializer):
    run = serializers.UUIDField()
    workflow = serializers.UUIDField()
    name = serializers.CharField(allow_null=True)


class TriggerFiredSerializer(serializers.Serializer):
    crossing = serializers.IntegerField()
    started = TriggerStartedSerializer(many=True)
