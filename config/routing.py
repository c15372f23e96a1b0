"""WebSocket routes: live monitoring of a workflow, and a preview run's steps.

Ids are UUIDs; any other path, or a malformed id, reaches NotFoundConsumer
and is closed with 4404 (before, it was an HTTP 500 from the router or a
database error on the id).
"""

from django.urls import re_path

from builder.consumers import NotFoundConsumer, PreviewConsumer, WorkflowMonitorConsumer

UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

websocket_urlpatterns = [
    re_path(rf"^ws/workflows/(?P<workflow_id>{UUID})/$", WorkflowMonitorConsumer.as_asgi()),
    re_path(rf"^ws/previews/(?P<run_id>{UUID})/$", PreviewConsumer.as_asgi()),
    re_path(r"", NotFoundConsumer.as_asgi()),
]
