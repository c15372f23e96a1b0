"""/hooks/: endpoints outside systems call (no session, no API key: the URL is the secret)."""

from django.urls import path

from .inbound.views import WorkflowWebhookView

urlpatterns = [
    path(
        "workflows/<uuid:workflow_id>/<str:signature>",
        WorkflowWebhookView.as_view(),
        name="workflow-webhook",
    ),
]
