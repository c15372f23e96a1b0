"""/api/v1/products…, /api/v1/escalations/{id}/acknowledge and
/api/v1/automation/triggers/{kind}: thin views over products/services.py.

Roles: viewer reads; editor creates and changes products, features and
configuration, sends usage and acknowledges escalations; publisher fires
triggers from outside (it starts runs); admin deletes products.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from automation.models import Run
from builder.api.serializers import ErrorSerializer
from builder.api.serializers_events import IngestResultSerializer, incoming_event
from builder.api.views import ApiViewMixin
from builder.models import Role, Workflow

from . import metrics, services
from .models import BandCrossing, Escalation, Feature, Product
from .serializers import (
    TRIGGER_KINDS,
    AcknowledgeSerializer,
    AnalyticsSerializer,
    ConfigurationSerializer,
    CrossingSerializer,
    EscalationSerializer,
    FeatureSerializer,
    FeatureWriteSerializer,
    MetricsSerializer,
    ProductSerializer,
    ProductUpdateSerializer,
    ProductWriteSerializer,
    TriggerFiredSerializer,
    TriggerFireSerializer,
    UsageBatchSerializer,
    UsageEventSerializer,
    validate_configuration,
)

BAD_REQUEST = {400: ErrorSerializer}
DAYS = OpenApiParameter(
    "days",
    {"type": "integer", "minimum": 1, "maximum": 366},
    description="How many days back (1-366, default 90).",
)


class ProductViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Products of the current workspace, their usage and their metrics."""

    queryset = Product.objects.none()
    serializer_class = ProductSerializer
    required_roles = {
        "list": Role.VIEWER,
        "retrieve": Role.VIEWER,
        "metrics": Role.VIEWER,
        "analytics": Role.VIEWER,
        "crossings": Role.VIEWER,
        "escalations": Role.VIEWER,
        "configuration": Role.VIEWER,
        "create": Role.EDITOR,
        "partial_update": Role.EDITOR,
        "add_feature": Role.EDITOR,
        "update_feature": Role.EDITOR,
        "events": Role.EDITOR,
        "set_configuration": Role.EDITOR,
        "destroy": Role.ADMIN,
    }

    def get_queryset(self):
        return (
            Product.objects.filter(workspace=self.request.workspace)
            .prefetch_related("features")
            .order_by("name", "pk")
        )

    def respond(self, product: Product, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=product.pk)
        return Response(ProductSerializer(fresh).data, status=code)

    # ------------------------------------------------------------ CRUD
    @extend_schema(responses=ProductSerializer(many=True))
    def list(self, request):
        """The workspace's products."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProductSerializer(page, many=True).data)

    @extend_schema(
        request=ProductWriteSerializer, responses={201: ProductSerializer, **BAD_REQUEST}
    )
    def create(self, request):
        """Create a product (with its features, optionally)."""
        data = self.validated(ProductWriteSerializer, request.data)
        product = services.create_product(request.workspace, **data)
        return self.respond(product, status.HTTP_201_CREATED)

    @extend_schema(responses=ProductSerializer)
    def retrieve(self, request, pk):
        return self.respond(self.get_object())

    @extend_schema(
        request=ProductUpdateSerializer, responses={200: ProductSerializer, **BAD_REQUEST}
    )
    def partial_update(self, request, pk):
        """Rename, re-describe or change the owners (features change through …/features)."""
        product = self.get_object()
        serializer = ProductUpdateSerializer(
            product, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return self.respond(services.update_product(product, **serializer.validated_data))

    @extend_schema(responses={204: None})
    def destroy(self, request, pk):
        """Delete a product, its history and its product-level runs."""
        product = self.get_object()
        with transaction.atomic():
            subject = product.subject
            product.delete()
            subject.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    # ------------------------------------------------------------ features
    @extend_schema(request=FeatureSerializer, responses={201: FeatureSerializer, **BAD_REQUEST})
    def add_feature(self, request, pk):
        """Add a feature: a key usage events name, and a target (a tag or a number)."""
        product = self.get_object()
        data = self.validated_with(FeatureWriteSerializer, request.data, product=product)
        feature = services.add_feature(product, **data)
        return Response(FeatureSerializer(feature).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=FeatureSerializer, responses={200: FeatureSerializer, **BAD_REQUEST})
    def update_feature(self, request, pk, key):
        """Change a feature (its name, its target audience)."""
        product = self.get_object()
        feature = Feature.objects.filter(product=product, key=key).first()
        if feature is None:
            raise Http404("no such feature")
        serializer = FeatureWriteSerializer(
            feature,
            data=request.data,
            partial=True,
            context={**self.get_serializer_context(), "product": product},
        )
        serializer.is_valid(raise_exception=True)
        feature = services.update_feature(feature, **serializer.validated_data)
        return Response(FeatureSerializer(feature).data)

    def validated_with(self, serializer_class, data, **context):
        serializer = serializer_class(
            data=data, context={**self.get_serializer_context(), **context}
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    # ------------------------------------------------------------ usage in
    @extend_schema(
        request=UsageEventSerializer,
        responses={202: IngestResultSerializer, **BAD_REQUEST},
    )
    def events(self, request, pk):
        """Usage events (feature_used, session, error, nps or your own), one or
        {"events": [...]}; deduplicated by id; ordinary events for contact workflows too."""
        product = self.get_object()
        keys = set(product.features.values_list("key", flat=True))
        if isinstance(request.data, dict) and "events" in request.data:
            events = self.validated_with(UsageBatchSerializer, request.data, feature_keys=keys)[
                "events"
            ]
            email_field = "events[{index}].contact.email"
        else:
            events = [self.validated_with(UsageEventSerializer, request.data, feature_keys=keys)]
            email_field = "contact.email"
        incoming = [incoming_event(event) for event in events]
        result = services.record_usage(product, incoming, email_field=email_field)
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)

    # ------------------------------------------------------------ metrics out
    @extend_schema(responses=MetricsSerializer)
    def metrics(self, request, pk):
        """The latest metrics: per feature adoption % and trend; active users,
        engagement, error rate, NPS and the health score (0-100)."""
        product = self.get_object()
        figures = product.metrics or metrics.compute(product, timezone.now())
        bands = {(s.metric, s.feature_key): s.band for s in product.band_states.all()}
        body = {
            **figures,
            "health_band": bands.get(("product_health", "")),
            "features": {
                key: {**f, "band": bands.get(("feature_adoption", key))}
                for key, f in figures.get("features", {}).items()
            },
        }
        return Response(body)

    @extend_schema(request=ConfigurationSerializer, responses={200: ConfigurationSerializer})
    def configuration(self, request, pk):
        """The configuration in force (defaults filled in)."""
        return Response(self.get_object().config)

    @extend_schema(
        request=ConfigurationSerializer, responses={200: ConfigurationSerializer, **BAD_REQUEST}
    )
    def set_configuration(self, request, pk):
        """Weights, window, engagement target, band edges, hysteresis and escalation routes.
        Left out: the default. Metrics are recomputed within seconds."""
        product = self.get_object()
        data = validate_configuration(request.data, request.workspace)
        product = services.set_configuration(product, data)
        return Response(product.config)

    @extend_schema(parameters=[DAYS], responses={200: AnalyticsSerializer, **BAD_REQUEST})
    def analytics(self, request, pk):
        """The metrics' history: one point per day, oldest first."""
        product = self.get_object()
        raw = request.query_params.get("days", "90")
        if not raw.isdigit() or not 1 <= int(raw) <= 366:
            raise serializers.ValidationError({"days": ["a whole number from 1 to 366"]})
        since = timezone.now().date() - timedelta(days=int(raw) - 1)
        points = product.points.filter(day__gte=since).order_by("day")
        return Response(
            {
                "product": product.pk,
                "points": [{"day": p.day.isoformat(), **p.metrics} for p in points],
            }
        )

    @extend_schema(responses=CrossingSerializer(many=True))
    def crossings(self, request, pk):
        """Band history, newest first, with the runs each crossing started."""
        product = self.get_object()
        page = self.paginate_queryset(product.crossings.select_related("event"))
        event_ids = [c.event_id for c in page if c.event_id]
        runs: dict = {}
        for run in (
            Run.objects.filter(trigger_event_id__in=event_ids)
            .select_related("workflow")
            .order_by("created_at")
        ):
            runs.setdefault(run.trigger_event_id, []).append(
                {
                    "id": str(run.pk),
                    "workflow": str(run.workflow_id),
                    "workflow_name": run.workflow.name,
                    "status": run.status,
                }
            )
        return self.get_paginated_response([_crossing(c, runs.get(c.event_id, [])) for c in page])

    @extend_schema(responses=EscalationSerializer(many=True))
    def escalations(self, request, pk):
        """The product's escalations, newest first."""
        product = self.get_object()
        page = self.paginate_queryset(product.escalations.all())
        return self.get_paginated_response([escalation_body(e) for e in page])


def _crossing(crossing: BandCrossing, runs: list) -> dict:
    return {
        "id": crossing.pk,
        "metric": crossing.metric,
        "feature": crossing.feature_key or None,
        "from_band": crossing.from_band or None,
        "to_band": crossing.to_band,
        "value": crossing.value,
        "source": crossing.source,
        "at": crossing.created_at.isoformat(),
        "runs": runs,
    }


def escalation_body(escalation: Escalation) -> dict:
    return {
        "id": escalation.pk,
        "product": escalation.product_id,
        "run": str(escalation.run_id) if escalation.run_id else None,
        "title": escalation.title,
        "level": escalation.level,
        "max_level": escalation.max_level,
        "status": escalation.status,
        "escalate_at": escalation.escalate_at.isoformat() if escalation.escalate_at else None,
        "acknowledged_at": (
            escalation.acknowledged_at.isoformat() if escalation.acknowledged_at else None
        ),
        "acknowledged_by": escalation.acknowledged_by,
        "history": escalation.history,
    }


class EscalationAcknowledgeView(ApiViewMixin, APIView):
    """Acknowledge an escalation: it stops rising to the next level."""

    required_roles = {"post": Role.EDITOR}

    @extend_schema(
        request=AcknowledgeSerializer, responses={200: EscalationSerializer, **BAD_REQUEST}
    )
    def post(self, request, pk):
        escalation = Escalation.objects.filter(pk=pk, product__workspace=request.workspace).first()
        if escalation is None:
            raise Http404("no such escalation")
        data = self.validated(AcknowledgeSerializer, request.data)
        by = data["by"] or getattr(request.user, "username", "") or "api key"
        escalation = services.acknowledge(escalation, by=by)
        return Response(escalation_body(escalation))


class TriggerFireView(ApiViewMixin, APIView):
    """Fire a product trigger from outside: feature-adoption and product-health
    (a band entered), performance-optimization and market-opportunity (signals)."""

    required_roles = {"post": Role.PUBLISHER}

    @extend_schema(
        request=TriggerFireSerializer,
        parameters=[OpenApiParameter("kind", {"enum": list(TRIGGER_KINDS)}, OpenApiParameter.PATH)],
        responses={202: TriggerFiredSerializer, **BAD_REQUEST},
    )
    def post(self, request, kind):
        if kind not in TRIGGER_KINDS:
            raise Http404(f"no trigger '{kind}'; use {', '.join(TRIGGER_KINDS)}")
        serializer = TriggerFireSerializer(
            data=request.data, context={**self.get_serializer_context(), "kind": kind}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        metric, _bands = TRIGGER_KINDS[kind]
        crossing, runs = services.fire_from_api(
            data["product"],
            metric,
            band=data["band"] or None,
            feature_key=data["feature"],
            value=data["value"],
            payload=data["payload"],
        )
        workflows = dict(
            Workflow.objects.filter(pk__in={r.workflow_id for r in runs}).values_list("pk", "name")
        )
        return Response(
            {
                "crossing": crossing.pk,
                "started": [
                    {
                        "run": str(r.pk),
                        "workflow": str(r.workflow_id),
                        "name": workflows.get(r.workflow_id),
                    }
                    for r in runs
                ],
            },
            status=status.HTTP_202_ACCEPTED,
        )
