"""WebSocket routes: live monitoring of a workflow, and a preview run's steps."""

from django.urls import re_path

from builder.consumers import PreviewConsumer, WorkflowMonitorConsumer

UUID = r"[0-9a-fA-F-]{36}"

websocket_urlpatterns = [
    re_path(rf"^ws/workflows/(?P<workflow_id>{UUID})/$", WorkflowMonitorConsumer.as_asgi()),
    re_path(rf"^ws/previews/(?P<run_id>{UUID})/$", PreviewConsumer.as_asgi()),
]
