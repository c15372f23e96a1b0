"""Admin for products: features inline, metrics and band history read-only,
escalations with an acknowledge action."""

from django import forms
from django.contrib import admin, messages
from rest_framework.exceptions import ValidationError

from . import services
from .models import BandCrossing, Escalation, Feature, MetricPoint, Product
from .serializers import error_lines, validate_configuration


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = "__all__"  # noqa: DJ007 (the admin's fieldsets decide)

    def clean(self) -> dict:
        """The configuration is checked as PUT /configuration checks it (the same code)."""
        cleaned = super().clean()
        workspace = cleaned.get("workspace") or getattr(self.instance, "workspace", None)
        if "configuration" in cleaned and workspace is not None:
            try:
                cleaned["configuration"] = validate_configuration(
                    cleaned["configuration"] or {}, workspace
                )
            except ValidationError as error:
                self.add_error("configuration", error_lines(error.detail))
        return cleaned


class FeatureInline(admin.TabularInline):
    model = Feature
    extra = 0
    fields = ("key", "name", "target_tag", "target_size")


class CrossingInline(admin.TabularInline):
    model = BandCrossing
    extra = 0
    can_delete = False
    fields = ("created_at", "metric", "feature_key", "from_band", "to_band", "value", "source")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "manager_email", "executive_email", "health", "metrics_at")
    list_filter = ("workspace",)
    search_fields = ("name", "manager_email", "executive_email")
    readonly_fields = ("metrics", "metrics_at", "dirty_at", "created_at", "updated_at")
    inlines = [FeatureInline, CrossingInline]
    actions = ["recompute"]
    form = ProductForm

    @admin.display(description="Health score")
    def health(self, product: Product):
        return (product.metrics or {}).get("health_score")

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        fields = {f: form.cleaned_data.get(f) for f in form.cleaned_data if f != "subject"}
        created = services.create_product(**{**fields, "workspace": fields["workspace"]})
        obj.pk = created.pk
        obj.subject_id = created.subject_id

    def save_related(self, request, form, formsets, change) -> None:
        """A changed configuration or feature is recomputed soon, as through the API."""
        super().save_related(request, form, formsets, change)
        features_changed = any(
            formset.has_changed() for formset in formsets if formset.model is Feature
        )
        if change and ("configuration" in form.changed_data or features_changed):
            services.mark_dirty([form.instance.pk])

    @admin.action(description="Recompute metrics now")
    def recompute(self, request, queryset) -> None:
        count = sum(
            1 for pk in queryset.values_list("pk", flat=True) if services.refresh_product(pk)
        )
        self.message_user(request, f"Recomputed {count} product(s).", messages.SUCCESS)


@admin.register(MetricPoint)
class MetricPointAdmin(admin.ModelAdmin):
    list_display = ("product", "day", "updated_at")
    list_filter = ("product",)
    readonly_fields = ("product", "day", "metrics", "updated_at")


@admin.register(BandCrossing)
class BandCrossingAdmin(admin.ModelAdmin):
    list_display = (
        "product",
        "metric",
        "feature_key",
        "from_band",
        "to_band",
        "value",
        "source",
        "created_at",
    )
    list_filter = ("metric", "to_band", "source")
    readonly_fields = [f.name for f in BandCrossing._meta.fields]


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ("title", "product", "level", "max_level", "status", "escalate_at", "created_at")
    list_filter = ("status", "level")
    readonly_fields = ("history", "idempotency_key", "run", "acknowledged_at", "acknowledged_by")
    actions = ["acknowledge"]

    @admin.action(description="Acknowledge (stop rising)")
    def acknowledge(self, request, queryset) -> None:
        for escalation in queryset:
            services.acknowledge(escalation, by=request.user.get_username())
        self.message_user(request, f"Acknowledged {queryset.count()}.", messages.SUCCESS)
