"""Refuse request bodies over REQUEST_MAX_BYTES before anything reads them.

Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only for form data read through
request.body/POST; DRF's JSON parser reads the stream itself, so without this
a client could make the API parse a body of any size. Under the ASGI server,
config/bodylimit.py refuses such bodies earlier, chunked ones included; this
stays for any other way in (the test client, a WSGI server).
"""

from django.conf import settings
from django.http import HttpResponse

from config.bodylimit import too_large_body


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
            # The same answer config.bodylimit gives before Django reads the body.
            return HttpResponse(
                too_large_body(length, limit), status=413, content_type="application/json"
            )
        return self.get_response(request)
