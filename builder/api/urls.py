"""/api/v1/: the endpoint table of DESIGN.md ("Outside contract"), one line per endpoint.

Every path answers with and without a trailing slash. The OpenAPI schema
shows each path as DESIGN.md writes it: `(?:/)?` is left out of the
documented path, `/?` shows as `/`.
"""

from django.urls import re_path

from .views import NodeTypesView, TemplateViewSet
from .views_connections import ConnectionViewSet, WebhookSecretViewSet
from .views_contacts import ContactViewSet
from .views_dead_letters import DeadLetterViewSet
from .views_events import EventsView
from .views_fields import FieldsView
from .views_previews import PreviewViewSet
from .views_runs import RunViewSet
from .views_segment import SegmentBatchView, SegmentIdentifyView, SegmentTrackView
from .views_workflows import WorkflowViewSet

UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
WORKFLOW = rf"workflows/(?P<pk>{UUID})"


def endpoint(route: str, view, name: str, *, slash: bool = True):
    """`route` with an optional trailing slash; `slash` says how the docs show it."""
    return re_path(rf"^{route}{'/?' if slash else '(?:/)?'}$", view, name=name)


workflows = WorkflowViewSet.as_view
runs = RunViewSet.as_view
contacts = ContactViewSet.as_view
templates = TemplateViewSet.as_view
previews = PreviewViewSet.as_view
connections = ConnectionViewSet.as_view

urlpatterns = [
    endpoint("workflows", workflows({"get": "list", "post": "create"}), "workflow-list"),
    # The seed's name for creating a workflow: an alias of POST /workflows.
    endpoint("workflows/create", workflows({"post": "create"}), "workflow-create", slash=False),
    endpoint("workflows/active", workflows({"get": "active"}), "workflow-active", slash=False),
    endpoint(
        WORKFLOW,
        workflows({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        "workflow-detail",
    ),
    endpoint(f"{WORKFLOW}/draft", workflows({"put": "draft"}), "workflow-draft", slash=False),
    endpoint(
        f"{WORKFLOW}/publish", workflows({"post": "publish"}), "workflow-publish", slash=False
    ),
    endpoint(
        f"{WORKFLOW}/status", workflows({"put": "set_status"}), "workflow-status", slash=False
    ),
    endpoint(f"{WORKFLOW}/versions", workflows({"get": "versions"}), "workflow-versions"),
    endpoint(
        rf"{WORKFLOW}/versions/(?P<number>[0-9]+)/restore",
        workflows({"post": "restore"}),
        "workflow-restore",
        slash=False,
    ),
    endpoint(f"{WORKFLOW}/results", workflows({"get": "results"}), "workflow-results", slash=False),
    endpoint(f"{WORKFLOW}/runs", workflows({"get": "runs"}), "workflow-runs"),
    endpoint(f"{WORKFLOW}/preview", previews({"post": "start"}), "workflow-preview", slash=False),
    endpoint(
        rf"previews/(?P<pk>{UUID})/next", previews({"post": "go_on"}), "preview-next", slash=False
    ),
    endpoint(
        rf"previews/(?P<pk>{UUID})/choose",
        previews({"post": "choose"}),
        "preview-choose",
        slash=False,
    ),
    endpoint(rf"runs/(?P<pk>{UUID})", runs({"get": "retrieve"}), "run-detail"),
    endpoint(rf"runs/(?P<pk>{UUID})/retry", runs({"post": "retry"}), "run-retry", slash=False),
    endpoint(rf"runs/(?P<pk>{UUID})/cancel", runs({"post": "cancel"}), "run-cancel", slash=False),
    # Dead letters: failed runs, listed together, retried or discarded in bulk.
    endpoint(
        "dead-letters", DeadLetterViewSet.as_view({"get": "list"}), "dead-letters", slash=False
    ),
    endpoint(
        "dead-letters/retry",
        DeadLetterViewSet.as_view({"post": "retry"}),
        "dead-letters-retry",
        slash=False,
    ),
    endpoint(
        "dead-letters/discard",
        DeadLetterViewSet.as_view({"post": "discard"}),
        "dead-letters-discard",
        slash=False,
    ),
    endpoint("node-types", NodeTypesView.as_view(), "node-types"),
    endpoint("contacts", contacts({"get": "list", "post": "create"}), "contact-list"),
    endpoint(
        r"contacts/(?P<pk>[0-9]+)",
        contacts({"get": "retrieve", "patch": "partial_update"}),
        "contact-detail",
    ),
    endpoint("events", EventsView.as_view(), "events", slash=False),
    endpoint("fields", FieldsView.as_view(), "fields", slash=False),
    endpoint("templates", templates({"get": "gallery"}), "template-list"),
    endpoint(
        r"templates/(?P<slug>[-\w]+)/use",
        templates({"post": "use"}),
        "template-use",
        slash=False,
    ),
    # Integrations: stored credentials and inbound webhook signing secrets.
    endpoint("connections", connections({"get": "list", "post": "create"}), "connection-list"),
    endpoint(
        r"connections/(?P<pk>[0-9]+)",
        connections({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        "connection-detail",
    ),
    endpoint(
        r"connections/(?P<pk>[0-9]+)/test",
        connections({"post": "test"}),
        "connection-test",
        slash=False,
    ),
    endpoint(
        f"{WORKFLOW}/webhook-secrets",
        WebhookSecretViewSet.as_view({"get": "list", "post": "rotate"}),
        "workflow-webhook-secrets",
        slash=False,
    ),
    endpoint("segment/track", SegmentTrackView.as_view(), "segment-track", slash=False),
    endpoint("segment/identify", SegmentIdentifyView.as_view(), "segment-identify", slash=False),
    endpoint("segment/batch", SegmentBatchView.as_view(), "segment-batch", slash=False),
]
