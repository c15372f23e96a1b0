"""ASGI entry point: HTTP through Django, WebSockets through Channels.

In the embedded default this process also executes runs (see
automation/embedded.py); in production Celery workers do.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from builder.api.fast_events import FastEvents  # noqa: E402
from config.bodylimit import BodySizeLimit, guard_daphne  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402

if settings.CAIRN_EXECUTION == "embedded":
    from automation import embedded

    embedded.start()

# REQUEST_MAX_BYTES also for bodies with no Content-Length (chunked).
guard_daphne()

application = ProtocolTypeRouter(
    {
        # Single events, when it can answer them as the API would: builder/api/fast_events.py.
        "http": BodySizeLimit(FastEvents(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
