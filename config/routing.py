"""WebSocket routes. Preview streaming (/ws/previews/{id}/) arrives with the preview issue."""

websocket_urlpatterns: list = []
