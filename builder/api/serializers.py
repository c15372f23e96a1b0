"""Shapes of workflows, versions, runs, the node catalogue and the template gallery.

Contacts and events live in serializers_contacts.py and serializers_events.py.
Names and meanings of the fields DESIGN.md lists under "Outside contract" are fixed.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from automation.models import ACTIVE_RUN_STATUSES, Run, Step
from automation.nodes.registry import get_node_type
from automation.webhooks import webhook_path
from builder.models import Role, Workflow, WorkflowPriority, WorkflowVersion
from builder.services import STATUS_TRANSITIONS
from builder.validation import validate_graph

WEBHOOK_TRIGGER = "trigger.webhook"
HIDDEN_OUTPUT = "[hidden: the editor role or higher may read what the outside system answered]"


# ---------------------------------------------------------------- errors (documentation)
class GraphIssueSerializer(serializers.Serializer):
    message = serializers.CharField()
    code = serializers.CharField()
    node = serializers.CharField(allow_null=True)
    edge = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    severity = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """Every 400: a one-line summary naming the field, and the messages by field."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    field = serializers.CharField(required=False)
    issues = GraphIssueSerializer(many=True, required=False)


class ConflictSerializer(serializers.Serializer):
    """Every 409: the stored state refuses a well-formed request. `detail` always; the
    field, messages and graph issues when the refusal is about them (as in a 400)."""

    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    field = serializers.CharField(required=False, allow_null=True)
    issues = GraphIssueSerializer(many=True, required=False)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


# ---------------------------------------------------------------- workflows
def draft_has_webhook_trigger(graph: Any) -> bool:
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    return isinstance(nodes, list) and any(
        isinstance(node, dict) and node.get("type") == WEBHOOK_TRIGGER for node in nodes
    )


class WorkflowSerializer(serializers.ModelSerializer):
    draft = serializers.JSONField(help_text="The graph being edited (React Flow shape).")
    version = serializers.SerializerMethodField(
        help_text="The latest published version number, or null before the first publish."
    )
    issues = serializers.SerializerMethodField(help_text="Validation issues of the draft.")
    webhook_url = serializers.SerializerMethodField(
        help_text="Where to POST to enrol (when the draft has an incoming-webhook trigger)."
    )
    revision = serializers.IntegerField(
        source="draft_revision",
        help_text="The draft's revision (also the ETag): send it as If-Match when saving.",
    )
    enrolled = serializers.SerializerMethodField(
        help_text="Runs ever started (preview runs excluded)."
    )
    active_runs = serializers.SerializerMethodField(
        help_text="Runs running or waiting now (preview runs excluded)."
    )

    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "description",
            "status",
            "priority",
            "draft",
            "revision",
            "version",
            "issues",
            "webhook_url",
            "enrolled",
            "active_runs",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_version(self, workflow: Workflow) -> int | None:
        if hasattr(workflow, "latest_number"):  # annotated by the view's queryset
            return workflow.latest_number
        return workflow.versions.order_by("-number").values_list("number", flat=True).first()

    @extend_schema_field(OpenApiTypes.INT)
    def get_enrolled(self, workflow: Workflow) -> int:
        if hasattr(workflow, "enrolled_total"):  # annotated by builder.queries.with_counts
            return workflow.enrolled_total
        return Run.objects.filter(workflow=workflow, is_preview=False).count()

    @extend_schema_field(OpenApiTypes.INT)
    def get_active_runs(self, workflow: Workflow) -> int:
        if hasattr(workflow, "active_run_total"):  # annotated by builder.queries.with_counts
            return workflow.active_run_total
        return Run.objects.filter(
            workflow=workflow, is_preview=False, status__in=ACTIVE_RUN_STATUSES
        ).count()

    @extend_schema_field(GraphIssueSerializer(many=True))
    def get_issues(self, workflow: Workflow) -> list[dict]:
        issues = validate_graph(workflow.draft, workspace_id=workflow.workspace_id)
        return [issue.as_dict() for issue in issues]

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_webhook_url(self, workflow: Workflow) -> str | None:
        if not draft_has_webhook_trigger(workflow.draft):
            return None
        path = webhook_path(workflow.pk)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


PRIORITY_HELP = (
    "high, normal or low: the queue its runs take. Workers take high first, so a "
    "backlog of low-priority runs never delays high-priority ones."
)


class WorkflowCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    draft = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="An initial draft graph; an empty graph when left out or null.",
    )
    priority = serializers.ChoiceField(
        choices=WorkflowPriority.choices,
        required=False,
        default=WorkflowPriority.NORMAL,
        help_text=PRIORITY_HELP,
    )


class WorkflowUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.ChoiceField(
        choices=WorkflowPriority.choices, required=False, help_text=PRIORITY_HELP
    )


class DraftRequestSerializer(serializers.Serializer):
    """The graph itself, or {"draft": graph}."""

    nodes = serializers.ListField(child=serializers.DictField())
    edges = serializers.ListField(child=serializers.DictField())
    settings = serializers.DictField(required=False)


class DraftResponseSerializer(serializers.Serializer):
    draft = serializers.JSONField()
    issues = GraphIssueSerializer(many=True)
    revision = serializers.IntegerField(help_text="The draft's new revision (also the ETag).")


class DraftConflictSerializer(serializers.Serializer):
    """412: the If-Match revision is not the stored one; nothing was saved."""

    detail = serializers.CharField()
    revision = serializers.IntegerField(help_text="The stored revision.")
    draft = serializers.JSONField(help_text="The stored draft.")


# ---------------------------------------------------------------- rule builder fields
class FieldsSerializer(serializers.Serializer):
    """Rule fields the canvas can offer, from the workspace's recent data."""

    contact = serializers.ListField(child=serializers.CharField())
    event = serializers.ListField(
        child=serializers.CharField(), help_text="Fields every trigger event has."
    )
    events = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="By event type: the event.data.* fields seen on recent events of that type.",
    )
    engagement = serializers.ListField(child=serializers.CharField())
    now = serializers.ListField(child=serializers.CharField())


class PublishRequestSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    migrate_runs = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Move waiting runs onto the new version where their node still exists.",
    )


# A subclass repeats its parent's `status` as plain text: the same choice set in
# two components would make drf-spectacular name its enum by a hash.
def same_status_as(component: str) -> serializers.CharField:
    return serializers.CharField(help_text=f"As in {component}.status.")


class PublishResponseSerializer(WorkflowSerializer):
    status = same_status_as("Workflow")
    migrated_runs = serializers.IntegerField()

    class Meta(WorkflowSerializer.Meta):
        fields = [*WorkflowSerializer.Meta.fields, "migrated_runs"]
        read_only_fields = fields


class WorkflowStatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[str(status) for status in STATUS_TRANSITIONS])


class TemplateUseSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=200, required=False, help_text="Defaults to the template's name."
    )


class VersionSerializer(serializers.ModelSerializer):
    published_by = serializers.SerializerMethodField()
    graph = serializers.JSONField()

    class Meta:
        model = WorkflowVersion
        fields = ["number", "published_at", "published_by", "note", "graph"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_published_by(self, version: WorkflowVersion) -> str | None:
        user = version.published_by
        return user.get_username() if user is not None else None


# ---------------------------------------------------------------- results
class RunCountsSerializer(serializers.Serializer):
    running = serializers.IntegerField()
    waiting = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    exited = serializers.IntegerField()


class NodeResultsSerializer(serializers.Serializer):
    entered = serializers.IntegerField(help_text="Visits of the node (steps executed).")
    waiting = serializers.IntegerField(help_text="Runs waiting at the node now.")
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()


class ResultsSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField(help_text="Runs started, preview runs excluded.")
    by_status = RunCountsSerializer()
    nodes = serializers.DictField(child=NodeResultsSerializer(), help_text="By node id.")


# ---------------------------------------------------------------- runs
class StepSerializer(serializers.ModelSerializer):
    output = serializers.JSONField()

    class Meta:
        model = Step
        fields = [
            "seq",
            "node_id",
            "node_type",
            "status",
            "handle",
            "output",
            "error",
            "attempt",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def to_representation(self, step):
        data = super().to_representation(step)
        # What an outside system answered (the `response` of any node that
        # reached outside, a webhook's body) is for editors and up; a viewer
        # sees that it is there, not what it says.
        request = self.context.get("request")
        role = getattr(request, "role", None)
        may_read = role is not None and Role.rank(role) >= Role.rank(Role.EDITOR)
        node_class = get_node_type(step.node_type)
        if may_read or node_class is None or not isinstance(data.get("output"), dict):
            return data
        hidden = node_class.private_output_keys(self._node_config(step))
        if hidden:
            data["output"] = {
                key: HIDDEN_OUTPUT if key in hidden else value
                for key, value in data["output"].items()
            }
        return data

    def _node_config(self, step) -> dict | None:
        """The config the step's node ran with (its run's version or preview draft);
        None when it cannot be found."""
        from automation.graph import version_graph
        from automation.preview import preview_graph

        graphs = self.context.setdefault("_graphs", {})
        run = step.run
        try:
            if run.pk not in graphs:
                graphs[run.pk] = (
                    preview_graph(run)
                    if run.is_preview
                    else (version_graph(run.version_id) if run.version_id else None)
                )
            node = graphs[run.pk].node(step.node_id) if graphs[run.pk] else None
        except Exception:
            return None
        if node is None:
            return None
        return dict((node.get("data") or {}).get("config") or {})


class RunSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(
        source="version.number",
        allow_null=True,
        help_text="The version number (null for a preview, which runs a draft).",
    )
    contact_email = serializers.SerializerMethodField()

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_contact_email(self, run: Run) -> str | None:
        if run.is_preview:
            return (run.preview.get("contact") or {}).get("email")
        return run.contact.email

    class Meta:
        model = Run
        fields = [
            "id",
            "workflow",
            "version",
            "contact",
            "contact_email",
            "status",
            "trigger_node",
            "current_node",
            "error",
            "is_preview",
            "resume_at",
            "created_at",
            "updated_at",
            "finished_at",
        ]
        read_only_fields = fields


class RunDetailSerializer(RunSerializer):
    status = same_status_as("Run")
    steps = StepSerializer(many=True, help_text="In execution order.")

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "steps"]
        read_only_fields = fields


# ---------------------------------------------------------------- catalogue
class NodeTypeSerializer(serializers.Serializer):
    type = serializers.CharField()
    category = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    version = serializers.IntegerField()
    config_schema = serializers.JSONField(help_text="JSON Schema of the node's config.")
    handles = serializers.ListField(child=serializers.CharField())
    handles_from = serializers.CharField(allow_null=True)
    fixed_handles = serializers.ListField(
        child=serializers.CharField(),
        help_text="With handles_from: the handles that follow the config's own.",
    )
    branching = serializers.BooleanField()
    summary = serializers.CharField(
        help_text="The canvas's one-line summary: `{field}` / `{field:format}` from config."
    )


class NodeTypeListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = NodeTypeSerializer(many=True)


class TemplateSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    graph = serializers.JSONField()


class TemplateListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = TemplateSerializer(many=True)
