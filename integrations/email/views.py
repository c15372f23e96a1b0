"""/hooks/email/…: what a contact's mail app or a click reaches.

- open/<token>.gif: the open pixel; the first open of a message is an
  `email_opened` event.
- click/<token>: the click redirect; an `email_clicked` event (once per
  message and link), then 302 to the link the token signs.
- unsubscribe/<token>: GET shows a page with a button (link scanners and
  previews must not unsubscribe anyone); POST unsubscribes at once, which
  is what RFC 8058 one-click (`List-Unsubscribe=One-Click`) sends. The
  contact gets `unsubscribed: true` and an `email_unsubscribed` event; for
  a message sent to other addresses than the contact's, those addresses
  are suppressed instead (EmailSuppression) and the contact is untouched.

The events go through the same ingest as the events API, so triggers,
conditions and `wait.event` see them.
"""

from __future__ import annotations

import base64
import hashlib
import html

from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from automation.contacts import ContactRef
from automation.ingest import IncomingEvent, ingest_events
from automation.models import Contact

from ..models import EmailSuppression
from . import tracking
from .nodes import UNSUBSCRIBED

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"


def _ref(token: str) -> dict:
    try:
        return tracking.read_token(token)
    except signing.BadSignature:
        raise Http404("no such link") from None


def _record(ref: dict, event_type: str, client_id: str, data: dict, properties=None) -> bool:
    contact = Contact.objects.filter(pk=ref.get("c"), workspace_id=ref.get("w")).first()
    if contact is None:
        return False
    ingest_events(
        contact.workspace_id,
        [
            IncomingEvent(
                type=event_type,
                contact=ContactRef(
                    email=None if contact.external_id else contact.email,
                    external_id=contact.external_id,
                    properties=properties,
                ),
                data={
                    "message_id": ref.get("m"),
                    "run": ref.get("r"),
                    "node": ref.get("n"),
                    **data,
                },
                occurred_at=timezone.now(),
                client_id=client_id[:200],
            )
        ],
    )
    return True


@require_http_methods(["GET", "HEAD"])
def open_pixel(request, token: str):
    ref = _ref(token)
    if request.method == "GET":
        _record(ref, "email_opened", f"email_opened:{ref.get('m')}", {})
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = NO_CACHE
    return response


@require_http_methods(["GET", "HEAD"])
def click(request, token: str):
    ref = _ref(token)
    destination = str(ref.get("u") or "")
    if not destination.startswith(("http://", "https://")):
        raise Http404("no such link")
    if request.method == "GET":
        link = hashlib.sha256(destination.encode()).hexdigest()[:16]
        _record(ref, "email_clicked", f"email_clicked:{ref.get('m')}:{link}", {"url": destination})
    response = HttpResponseRedirect(destination)
    response["Cache-Control"] = NO_CACHE
    return response


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem">
<h1 style="font-size:1.4rem">{title}</h1><p>{text}</p>{form}</body></html>"""


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    ref = _ref(token)
    if request.method == "POST":
        if ref.get("e"):
            # A message to someone other than the run's contact: those addresses
            # get no more email from this workspace; the contact is left alone.
            EmailSuppression.suppress(ref.get("w"), ref["e"])
        else:
            _record(
                ref,
                "email_unsubscribed",
                f"email_unsubscribed:{ref.get('w')}:{ref.get('c')}",
                {},
                properties={UNSUBSCRIBED: True},
            )
        body = PAGE.format(
            title="You are unsubscribed",
            text="You will not get these emails any more.",
            form="",
        )
        return HttpResponse(body)
    form = (
        f'<form method="post" action="{html.escape(request.path)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit" style="font-size:1rem;padding:.5rem 1rem">Unsubscribe</button>'
        "</form>"
    )
    return HttpResponse(
        PAGE.format(
            title="Unsubscribe?", text="Stop receiving these emails with one click.", form=form
        )
    )
