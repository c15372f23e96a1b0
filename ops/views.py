"""GET /metrics: Prometheus text format, for a bearer token or a logged-in staff user."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from ops.metrics import render

# The classic text exposition format, which every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip(), token)
    user = request.user
    return bool(user.is_authenticated and user.is_staff)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        how = (
            "send Authorization: Bearer <METRICS_TOKEN>"
            if settings.METRICS_TOKEN
            else ("set METRICS_TOKEN and send it as a bearer token, or log in as staff")
        )
        response = JsonResponse({"detail": f"metrics are private: {how}"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render(), content_type=CONTENT_TYPE)
