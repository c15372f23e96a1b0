"""The runtime in the Django admin: contacts, events, runs and their steps, the inbox.

Operators mostly look here: events, steps, deployments and trigger bindings
are written by the engine and the builder, never by hand. The few things an
operator does (retry or cancel a run, close an inbox item, edit a contact) go
through the same functions the API uses.

automation/ imports neither builder/ nor integrations/: workflow names are
reached through the string foreign keys, loaded with list_select_related.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from .models import (
    Contact,
    Deployment,
    Event,
    InboxItem,
    Run,
    Step,
    TriggerBinding,
)
from .runs import (
    RunStateError,
    cancel_run,
    dead_letters,
    discard_dead_letters,
    retry_run,
)

COMPACT_JSON_MAX_CHARS = 300


# ---------------------------------------------------------------- display helpers


def pretty_json(value: Any) -> str:
    """A JSON value as an indented, read-only block (builder's admin uses it too)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return format_html('<pre style="{}">{}</pre>', _PRE_STYLE, text)


def compact_json(value: Any, max_chars: int = COMPACT_JSON_MAX_CHARS) -> str:
    """A JSON value on one line, cut short for tables."""
    if value in ({}, [], None, ""):
        return "—"
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return format_html("<code>{}</code>", text)


def changelist_link(model_label: str, filters: dict, text: str) -> str:
    """A link to a filtered admin list, e.g. the runs of one contact."""
    app_label, model_name = model_label.split(".")
    url = f"{reverse(f'admin:{app_label}_{model_name}_changelist')}?{urlencode(filters)}"
    return format_html('<a href="{}">{}</a>', url, text)


def short_id(value: Any) -> str:
    return str(value)[:8]


_PRE_STYLE = (
    "margin:0;max-height:32em;overflow:auto;padding:8px;"
    "white-space:pre-wrap;word-break:break-word;font-size:12px"
)


class DeletesHistoryMixin:
    """Deleting a parent (a contact, a workflow, a workspace) takes its history with it.

    Django asks for delete permission on every cascaded row, and the history
    admins (events, runs, steps, versions, ...) grant none, so without this
    nothing that has a history could ever be deleted. `history_models` names
    the read-only models whose rows may go with their parent.
    """

    history_models: tuple = ()

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        exempt = {str(model._meta.verbose_name) for model in self.history_models}
        perms_needed = {name for name in perms_needed if str(name) not in exempt}
        return deleted, counts, perms_needed, protected


class ReadOnlyAdminMixin:
    """Rows the engine or the builder writes: operators may look, never add, change or delete."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# ---------------------------------------------------------------- contacts and events


@admin.register(Contact)
class ContactAdmin(DeletesHistoryMixin, admin.ModelAdmin):
    list_display = ("email", "external_id", "workspace", "tag_list", "last_seen_at", "created_at")
    list_display_links = ("email", "external_id")
    list_filter = ("workspace", "time_zone")
    list_select_related = ("workspace",)
    search_fields = ("email", "external_id")
    date_hierarchy = "created_at"
    fields = (
        "workspace",
        "email",
        "external_id",
        "time_zone",
        "tags",
        "properties",
        "engagement_json",
        "runs_link",
        "last_seen_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("engagement_json", "runs_link", "last_seen_at", "created_at", "updated_at")
    autocomplete_fields = ("workspace",)
    history_models = (Event, Run, Step)

    @admin.display(description="tags")
    def tag_list(self, obj: Contact) -> str:
        return ", ".join(str(tag) for tag in obj.tags) if obj.tags else "—"

    @admin.display(description="engagement")
    def engagement_json(self, obj: Contact) -> str:
        return pretty_json(obj.engagement)

    @admin.display(description="runs")
    def runs_link(self, obj: Contact) -> str:
        if obj.pk is None:
            return "—"
        return changelist_link(
            "automation.run", {"contact__id__exact": obj.pk}, f"{obj.runs.count()} runs"
        )

    def get_readonly_fields(self, request, obj=None):
        # A contact stays in the workspace it was created in.
        if obj is not None:
            return ("workspace", *self.readonly_fields)
        return self.readonly_fields


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("type", "contact", "client_id", "workspace", "occurred_at", "received_at")
    list_filter = ("type", "workspace")
    list_select_related = ("contact", "workspace")
    search_fields = ("client_id", "contact__email")
    date_hierarchy = "received_at"
    fields = (
        "id",
        "workspace",
        "type",
        "client_id",
        "contact",
        "occurred_at",
        "received_at",
        "data_json",
    )
    readonly_fields = fields

    @admin.display(description="data")
    def data_json(self, obj: Event) -> str:
        return pretty_json(obj.data)


# ---------------------------------------------------------------- deployments


class TriggerBindingInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TriggerBinding
    fields = ("node_id", "trigger_type", "key", "next_fire_at", "config_json")
    readonly_fields = fields
    extra = 0
    show_change_link = True

    @admin.display(description="config")
    def config_json(self, obj: TriggerBinding) -> str:
        return compact_json(obj.config)


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "workflow",
        "workspace",
        "version_number",
        "status",
        "trigger_count",
        "exit_event",
        "updated_at",
    )
    list_filter = ("status", "workspace")
    list_select_related = ("workflow", "workspace", "version")
    search_fields = ("workflow__name", "exit_event")
    fields = (
        "workflow",
        "workspace",
        "version",
        "status",
        "exit_event",
        "settings_json",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (TriggerBindingInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(trigger_total=Count("triggers"))

    @admin.display(description="version", ordering="version__number")
    def version_number(self, obj: Deployment) -> int:
        return obj.version.number

    @admin.display(description="triggers", ordering="trigger_total")
    def trigger_count(self, obj: Deployment) -> int:
        return obj.trigger_total

    @admin.display(description="settings")
    def settings_json(self, obj: Deployment) -> str:
        return pretty_json(obj.settings)


@admin.register(TriggerBinding)
class TriggerBindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("trigger_type", "key", "workflow", "node_id", "workspace", "next_fire_at")
    list_filter = ("trigger_type", "workspace")
    list_select_related = ("deployment__workflow", "workspace")
    search_fields = ("key", "node_id", "deployment__workflow__name")
    fields = (
        "deployment",
        "workspace",
        "node_id",
        "trigger_type",
        "key",
        "next_fire_at",
        "config_json",
    )
    readonly_fields = fields

    @admin.display(description="workflow", ordering="deployment__workflow__name")
    def workflow(self, obj: TriggerBinding):
        return obj.deployment.workflow

    @admin.display(description="config")
    def config_json(self, obj: TriggerBinding) -> str:
        return pretty_json(obj.config)


# ---------------------------------------------------------------- runs and steps


class StepInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Step
    fields = (
        "seq",
        "node_id",
        "node_type",
        "status",
        "attempt",
        "error",
        "started_at",
        "finished_at",
        "output_json",
    )
    readonly_fields = fields
    ordering = ("seq",)
    extra = 0
    show_change_link = True

    @admin.display(description="output")
    def output_json(self, obj: Step) -> str:
        return compact_json(obj.output)


class DeadLetterFilter(admin.SimpleListFilter):
    """Dead letters: runs that failed after their retries (runs.dead_letters), to retry
    or discard in bulk with the actions."""

    title = "dead letters"
    parameter_name = "dead_letter"

    def lookups(self, request, model_admin):
        return (("yes", "Failed after their retries"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(pk__in=dead_letters().values("pk"))
        return queryset


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Runs are the engine's: every field is read-only; retry, cancel and discard are an
    operator's verbs. The dead letters are the list filtered "failed after their retries"
    (…/automation/run/?dead_letter=yes), with bulk retry and discard."""

    list_display = (
        "short_id",
        "workflow",
        "version_number",
        "contact",
        "status",
        "current_node",
        "step_count",
        "is_preview",
        "created_at",
        "finished_at",
    )
    list_filter = (DeadLetterFilter, "status", "workflow", "is_preview")
    list_select_related = ("workflow", "version", "contact")
    search_fields = ("contact__email", "id", "error")
    date_hierarchy = "created_at"
    actions = ("retry_selected", "discard_selected", "cancel_selected")
    inlines = (StepInline,)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "workspace",
                    "workflow",
                    "version",
                    "contact",
                    "status",
                    "error",
                    "is_preview",
                )
            },
        ),
        (
            "Progress",
            {
                "fields": (
                    "trigger_node",
                    "trigger_event",
                    "current_node",
                    "current_step",
                    "step_count",
                    "retry_floor",
                    "outputs_json",
                )
            },
        ),
        (
            "Waiting",
            {
                "fields": (
                    "resume_at",
                    "resume_handle",
                    "waiting_for",
                    "wait_rules",
                    "lease_until",
                ),
                "classes": ("collapse",),
            },
        ),
        ("Times", {"fields": ("created_at", "updated_at", "finished_at")}),
    )
    readonly_fields = (
        "id",
        "workspace",
        "workflow",
        "version",
        "contact",
        "status",
        "error",
        "is_preview",
        "trigger_node",
        "trigger_event",
        "current_node",
        "current_step",
        "step_count",
        "retry_floor",
        "outputs_json",
        "resume_at",
        "resume_handle",
        "waiting_for",
        "wait_rules",
        "lease_until",
        "created_at",
        "updated_at",
        "finished_at",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # No run is edited by hand (its page is view-only); the permission
        # without an object is what the retry/cancel actions ask for.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        # A run is the record of what happened to a contact: cancel it, keep it.
        return False

    @admin.display(description="run", ordering="id")
    def short_id(self, obj: Run) -> str:
        return short_id(obj.pk)

    @admin.display(description="version", ordering="version__number")
    def version_number(self, obj: Run) -> int | str:
        # A preview runs the draft it was started on: it has no version.
        return obj.version.number if obj.version_id else "draft (preview)"

    @admin.display(description="outputs")
    def outputs_json(self, obj: Run) -> str:
        return pretty_json(obj.outputs)

    @admin.action(description="Retry selected runs from the failed step", permissions=["change"])
    def retry_selected(self, request, queryset):
        self._operate(request, queryset, retry_run, done="Retried")

    @admin.action(description="Discard selected failed runs", permissions=["change"])
    def discard_selected(self, request, queryset):
        """Give up on the failed runs selected (runs.discard_dead_letters); any other
        run is named and left alone."""
        failed = dead_letters().filter(pk__in=queryset.values("pk")).values_list("pk", flat=True)
        failed = sorted(failed)
        for run in queryset.exclude(pk__in=failed).order_by("created_at"):
            self.message_user(
                request, f"Run {short_id(run.pk)} is {run.status}, not failed.", messages.ERROR
            )
        if failed:
            by = request.user.email or request.user.get_username()
            result = discard_dead_letters(None, failed, by=f"{by} (admin)")
            noun = "run" if len(result.runs) == 1 else "runs"
            self.message_user(request, f"Discarded {len(result.runs)} {noun}.", messages.SUCCESS)

    @admin.action(description="Cancel selected runs", permissions=["change"])
    def cancel_selected(self, request, queryset):
        self._operate(request, queryset, cancel_run, done="Cancelled")

    def _operate(self, request, queryset, operation, *, done: str) -> None:
        succeeded = []
        for run in queryset.order_by("created_at"):
            try:
                operation(run)
            except RunStateError as error:
                self.message_user(request, f"Run {short_id(run.pk)}: {error}.", messages.ERROR)
            else:
                succeeded.append(short_id(run.pk))
        if succeeded:
            noun = "run" if len(succeeded) == 1 else "runs"
            self.message_user(
                request,
                f"{done} {len(succeeded)} {noun}: {', '.join(succeeded)}.",
                messages.SUCCESS,
            )


@admin.register(Step)
class StepAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "node_id",
        "run_short_id",
        "seq",
        "node_type",
        "status",
        "attempt",
        "started_at",
        "finished_at",
    )
    list_filter = ("status", "node_type")
    list_select_related = ("run",)
    search_fields = ("node_id", "run__id")
    date_hierarchy = "started_at"
    fields = (
        "run",
        "seq",
        "node_id",
        "node_type",
        "status",
        "handle",
        "attempt",
        "started_at",
        "finished_at",
        "output_json",
        "error",
        "traceback",
    )
    readonly_fields = fields

    @admin.display(description="run", ordering="run_id")
    def run_short_id(self, obj: Step) -> str:
        url = reverse("admin:automation_run_change", args=[obj.run_id])
        return format_html('<a href="{}">{}</a>', url, short_id(obj.run_id))

    @admin.display(description="output")
    def output_json(self, obj: Step) -> str:
        return pretty_json(obj.output)


# ---------------------------------------------------------------- inbox


@admin.register(InboxItem)
class InboxItemAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "assignee", "workspace", "done", "created_at")
    list_filter = ("kind", "done", "workspace")
    list_select_related = ("workspace",)
    search_fields = ("title", "assignee", "body")
    date_hierarchy = "created_at"
    actions = ("mark_done",)
    fields = (
        "workspace",
        "kind",
        "channel",
        "title",
        "body",
        "assignee",
        "done",
        "contact",
        "run",
        "step",
        "created_at",
    )
    readonly_fields = ("workspace", "kind", "channel", "contact", "run", "step", "created_at")

    def has_add_permission(self, request) -> bool:
        # Items come from workflows (action.notify, action.task).
        return False

    @admin.action(description="Mark selected items as done", permissions=["change"])
    def mark_done(self, request, queryset):
        count = queryset.filter(done=False).update(done=True)
        noun = "item" if count == 1 else "items"
        self.message_user(request, f"Marked {count} {noun} as done.", messages.SUCCESS)
