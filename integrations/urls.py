"""/hooks/: endpoints outside systems call (no session, no API key: the URL is the secret)."""

from django.urls import path

from .email import views as email
from .inbound.views import WorkflowWebhookView

urlpatterns = [
    path(
        "workflows/<uuid:workflow_id>/<str:signature>",
        WorkflowWebhookView.as_view(),
        name="workflow-webhook",
    ),
    path("email/open/<str:token>.gif", email.open_pixel, name="email-open"),
    path("email/click/<str:token>", email.click, name="email-click"),
    path("email/unsubscribe/<str:token>", email.unsubscribe, name="email-unsubscribe"),
]
