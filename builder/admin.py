"""Definitions in the Django admin: workspaces, members, API keys, workflows, versions.

Every change of a workflow's status or versions goes through builder.services,
exactly as the API does: the publish/pause/resume/archive actions and the
Publish button of the change page call `publish` and `change_status` and
report each outcome, and a draft edited here is checked the way `save_draft`
checks it (and moves the draft revision on, so an open editor tab notices).

The workflow change page draws the draft read-only with the canvas bundle
(`src/readonly.tsx`), links to the editor, and keeps the JSON editable in a
collapsed section.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from automation.admin import (
    DeletesHistoryMixin,
    ReadOnlyAdminMixin,
    changelist_link,
    pretty_json,
)
from automation.models import (
    Contact,
    Deployment,
    Event,
    InboxItem,
    Run,
    Step,
    TriggerBinding,
)
from automation.nodes.registry import all_node_types

from . import services
from .api.auth import forget_keys
from .models import ApiKey, Membership, Workflow, WorkflowStatus, WorkflowVersion, Workspace
from .queries import count_of, with_counts
from .validation import structural_issues, validate_graph

# How many validation issues a failed publish lists in its message.
PUBLISH_ISSUES_SHOWN = 3


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe(error: services.WorkflowError) -> str:
    """The error and the first few issues that explain it."""
    text = str(error)
    if error.issues:
        shown = [issue.message for issue in error.issues[:PUBLISH_ISSUES_SHOWN]]
        more = len(error.issues) - len(shown)
        text += ": " + " ".join(shown)
        if more:
            text += f" (and {more} more)"
    return text


# ---------------------------------------------------------------- workspaces and access


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)
    extra = 0


class ApiKeyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Keys are listed, never shown: the raw key exists only in create_api_key's output."""

    model = ApiKey
    fields = ("name", "role", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(Workspace)
class WorkspaceAdmin(DeletesHistoryMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "member_count", "workflow_count", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "workflows_link", "created_at")
    readonly_fields = ("workflows_link", "created_at")
    inlines = (MembershipInline, ApiKeyInline)
    history_models = (
        ApiKey,
        WorkflowVersion,
        Contact,
        Event,
        Deployment,
        TriggerBinding,
        Run,
        Step,
        InboxItem,
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                member_total=count_of(Membership.objects.all(), "workspace"),
                workflow_total=count_of(Workflow.objects.all(), "workspace"),
            )
        )

    @admin.display(description="members", ordering="member_total")
    def member_count(self, obj: Workspace) -> int:
        return obj.member_total

    @admin.display(description="workflows", ordering="workflow_total")
    def workflow_count(self, obj: Workspace) -> int:
        return obj.workflow_total

    @admin.display(description="workflows")
    def workflows_link(self, obj: Workspace) -> str:
        if obj.pk is None:
            return "—"
        return changelist_link(
            "builder.workflow",
            {"workspace__id__exact": obj.pk},
            plural(obj.workflow_total, "workflow"),
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role", "workspace")
    list_select_related = ("user", "workspace")
    search_fields = ("user__username", "user__email", "workspace__name", "workspace__slug")
    autocomplete_fields = ("user", "workspace")
    readonly_fields = ("created_at",)


class ApiKeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("active", "Active"), ("revoked", "Revoked"))

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Name and role can be changed; the hash is never shown, and keys are created
    only by `manage.py create_api_key`, which prints the raw key once."""

    list_display = (
        "name",
        "workspace",
        "role",
        "prefix",
        "is_active",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = (ApiKeyStateFilter, "role", "workspace")
    list_select_related = ("workspace",)
    search_fields = ("name", "prefix", "workspace__name")
    fields = ("name", "workspace", "role", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("workspace", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="active", boolean=True, ordering="revoked_at")
    def is_active(self, obj: ApiKey) -> bool:
        return obj.revoked_at is None

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request, queryset):
        active = queryset.filter(revoked_at__isnull=True)
        forget_keys(list(active.values_list("key_hash", flat=True)))
        count = active.update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {plural(count, 'API key')}.", messages.SUCCESS)

    # Every other process stops using its cached row within API_KEY_CACHE_SECONDS.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        forget_keys([obj.key_hash])

    def delete_model(self, request, obj):
        forget_keys([obj.key_hash])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        forget_keys(list(queryset.values_list("key_hash", flat=True)))
        super().delete_queryset(request, queryset)


# ---------------------------------------------------------------- workflows


class PrettyJSONField(forms.JSONField):
    """A JSON form field that shows its value indented, for editing by hand."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class WorkflowAdminForm(forms.ModelForm):
    draft = PrettyJSONField(
        widget=forms.Textarea(
            attrs={"rows": 24, "cols": 100, "style": "font-family:monospace;font-size:12px"}
        ),
        help_text="The draft graph (React Flow JSON). Saved as work in progress: "
        "a broken document is refused, unfinished work is kept and listed below.",
    )

    class Meta:
        model = Workflow
        fields = ("workspace", "name", "description", "priority", "draft", "template_slug")

    def clean_draft(self):
        # The checks services.save_draft makes before it stores a draft.
        graph = self.cleaned_data["draft"]
        try:
            services.check_graph_size(graph)
        except services.WorkflowError as error:
            raise ValidationError(str(error)) from error
        broken = structural_issues(validate_graph(graph))
        if broken:
            raise ValidationError([issue.message for issue in broken])
        return graph


class WorkflowVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WorkflowVersion
    fields = ("number", "published_at", "published_by", "note")
    readonly_fields = fields
    ordering = ("-number",)
    extra = 0
    show_change_link = True


@admin.register(Workflow)
class WorkflowAdmin(DeletesHistoryMixin, admin.ModelAdmin):
    form = WorkflowAdminForm
    change_form_template = "admin/builder/workflow/change_form.html"
    list_display = (
        "name",
        "workspace",
        "status",
        "priority",
        "latest_version_number",
        "active_runs",
        "updated_at",
    )
    list_filter = ("status", "priority", "workspace")
    list_select_related = ("workspace",)
    search_fields = ("name", "description")
    actions = ("publish_selected", "pause_selected", "resume_selected", "archive_selected")
    inlines = (WorkflowVersionInline,)
    autocomplete_fields = ("workspace",)
    fieldsets = (
        (
            None,
            {"fields": ("workspace", "name", "description", "status", "priority", "runs_link")},
        ),
        ("Problems in the draft", {"fields": ("draft_issues",)}),
        ("Draft as JSON", {"fields": ("draft",), "classes": ("collapse",)}),
        (
            "More",
            {
                "fields": ("template_slug", "created_by", "created_at", "updated_at"),
                "classes": ("collapse",),
            },
        ),
    )
    readonly_fields = (
        "status",
        "runs_link",
        "draft_issues",
        "created_by",
        "created_at",
        "updated_at",
    )
    history_models = (WorkflowVersion, Deployment, TriggerBinding, Run, Step)

    def get_queryset(self, request):
        return with_counts(super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        # A workflow stays in its workspace: its runs and deployment point there too.
        if obj is not None:
            return ("workspace", *self.readonly_fields)
        return self.readonly_fields

    def get_actions(self, request):
        # Active and paused workflows must be archived before they are deleted
        # (services.delete_workflow); one at a time, from the change page.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status in (WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        elif "draft" in form.changed_data:
            # As services.save_draft does: an editor tab on the old revision must not
            # overwrite this edit without being told.
            obj.draft_revision = F("draft_revision") + 1
        super().save_model(request, obj, form, change)
        if change:
            obj.refresh_from_db(fields=["draft_revision"])

    # ------------------------------------------------------------ change page

    def get_urls(self):
        publish = path(
            "<path:object_id>/publish/",
            self.admin_site.admin_view(self.publish_view),
            name="builder_workflow_publish",
        )
        return [publish, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        workflow = self.get_object(request, unquote(object_id))
        if workflow is not None:
            extra_context = {
                **(extra_context or {}),
                "readonly_data": {
                    "graph": workflow.draft,
                    "nodeTypes": [node_type.describe() for node_type in all_node_types()],
                },
                "editor_url": reverse("workflow-editor", args=[workflow.pk]),
                "publish_url": reverse("admin:builder_workflow_publish", args=[workflow.pk]),
                "can_publish": workflow.status != WorkflowStatus.ARCHIVED
                and self.has_change_permission(request, workflow),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def publish_view(self, request, object_id):
        """The Publish button: publish the draft, or say which problems stop it."""
        workflow = self.get_object(request, unquote(object_id))
        if workflow is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if request.method != "POST" or not self.has_change_permission(request, workflow):
            raise PermissionDenied
        try:
            result = services.publish(workflow, user=request.user, note="published from the admin")
        except services.WorkflowError as error:
            self.message_user(
                request, f"Could not publish “{workflow}”: {describe(error)}", messages.ERROR
            )
        else:
            self.message_user(
                request,
                f"Published “{workflow}” as version {result.version.number}.",
                messages.SUCCESS,
            )
        return redirect(reverse("admin:builder_workflow_change", args=[workflow.pk]))

    def delete_model(self, request, obj):
        services.delete_workflow(obj)

    # ------------------------------------------------------------ columns

    @admin.display(description="version", ordering="latest_number")
    def latest_version_number(self, obj: Workflow):
        return obj.latest_number

    @admin.display(description="active runs", ordering="active_run_total")
    def active_runs(self, obj: Workflow) -> int:
        return obj.active_run_total

    @admin.display(description="runs")
    def runs_link(self, obj: Workflow) -> str:
        if obj.pk is None:
            return "—"
        link = changelist_link("automation.run", {"workflow__id__exact": obj.pk}, "all runs")
        return format_html("{} ({} running or waiting)", link, obj.active_run_total)

    @admin.display(description="problems in the draft")
    def draft_issues(self, obj: Workflow) -> str:
        if obj.pk is None:
            return "—"
        issues = validate_graph(obj.draft, workspace_id=obj.workspace_id)
        if not issues:
            return "None: the draft can be published."
        items = format_html_join("", "<li>{}</li>", ((issue.message,) for issue in issues))
        return format_html('<ul style="margin:0;padding-left:1.2em">{}</ul>', items)

    # ------------------------------------------------------------ actions

    @admin.action(description="Publish the draft of selected workflows", permissions=["change"])
    def publish_selected(self, request, queryset):
        published = []
        for workflow in queryset:
            try:
                result = services.publish(
                    workflow, user=request.user, note="published from the admin"
                )
            except services.WorkflowError as error:
                self.message_user(
                    request, f"Could not publish “{workflow}”: {describe(error)}", messages.ERROR
                )
            else:
                published.append(f"“{workflow}” as version {result.version.number}")
        if published:
            self.message_user(request, f"Published {'; '.join(published)}.", messages.SUCCESS)

    @admin.action(description="Pause selected workflows", permissions=["change"])
    def pause_selected(self, request, queryset):
        self._change_status(request, queryset, WorkflowStatus.PAUSED, "Paused")

    @admin.action(description="Resume selected workflows", permissions=["change"])
    def resume_selected(self, request, queryset):
        self._change_status(request, queryset, WorkflowStatus.ACTIVE, "Resumed")

    @admin.action(description="Archive selected workflows", permissions=["change"])
    def archive_selected(self, request, queryset):
        self._change_status(request, queryset, WorkflowStatus.ARCHIVED, "Archived")

    def _change_status(self, request, queryset, status: str, done: str) -> None:
        changed = []
        for workflow in queryset:
            if workflow.status == status:
                self.message_user(
                    request, f"“{workflow}” is already {workflow.status}.", messages.INFO
                )
                continue
            try:
                services.change_status(workflow, status)
            except services.WorkflowError as error:
                self.message_user(request, f"“{workflow}”: {describe(error)}", messages.ERROR)
            else:
                changed.append(f"“{workflow}”")
        if changed:
            self.message_user(request, f"{done} {', '.join(changed)}.", messages.SUCCESS)


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Published versions are immutable: no add, no change, no delete."""

    list_display = (
        "workflow",
        "number",
        "workspace",
        "node_count",
        "published_at",
        "published_by",
        "note",
    )
    list_filter = ("workflow__workspace",)
    list_select_related = ("workflow__workspace", "published_by")
    search_fields = ("workflow__name", "note")
    date_hierarchy = "published_at"
    fields = ("workflow", "number", "note", "published_at", "published_by", "graph_json")
    readonly_fields = fields

    @admin.display(description="workspace", ordering="workflow__workspace__name")
    def workspace(self, obj: WorkflowVersion):
        return obj.workflow.workspace

    @admin.display(description="nodes")
    def node_count(self, obj: WorkflowVersion) -> int:
        nodes = obj.graph.get("nodes") if isinstance(obj.graph, dict) else None
        return len(nodes) if isinstance(nodes, list) else 0

    @admin.display(description="graph")
    def graph_json(self, obj: WorkflowVersion) -> str:
        return pretty_json(obj.graph)
