"""Refuse request bodies over REQUEST_MAX_BYTES before anything reads them.

Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only for form data read through
request.body/POST; DRF's JSON parser reads the stream itself, so without this
a client could make the API parse a body of any size.
"""

from django.conf import settings
from django.http import JsonResponse


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            message = (
                f"the request body is {length} bytes; the limit is {limit} (REQUEST_MAX_BYTES)"
            )
            return JsonResponse(
                {"detail": f"body: {message}", "errors": {"body": [message]}}, status=400
            )
        return self.get_response(request)
