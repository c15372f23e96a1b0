"""The fast path of POST /api/v1/events: one valid event, stored and answered
without Django's request cycle.

Most traffic is one event per request. Through Django and DRF such a request
costs several milliseconds of CPU (middleware, the view's machinery, a fresh
serializer, a transaction of its own: bench/RESULTS.md, "Profile"); the
work that matters, parsing, validating and one INSERT, is a fraction of it.
This ASGI middleware does only that work, for the requests it can answer
exactly as the API view would, and hands every other request to Django
untouched, body included:

- it answers only a POST of one event (not a batch) to the events path, with
  no query string, `Content-Type: application/json` (UTF-8), and a Bearer
  key this process already trusts (builder/api/auth.py `cached_key`: looked
  up through Django within API_KEY_CACHE_SECONDS) with the editor role or
  higher, in its own workspace;
- it parses with the API's parser rules (automation/safe_json.py) and
  validates with the API's own `EventSerializer`, built once;
- anything else, any doubt (a field in error, an unknown key, both an email
  and an external_id: that check reads contacts), and any failure to store
  goes to Django, which answers it as the API always has: the same 400
  naming the field, 401, 403 or 503. The fast path never writes an error.

Events go to the process's group-commit writer (automation/group_commit.py),
which stores concurrent events in one INSERT; the answer is sent once the
event is committed, as the API view's is.

Only with the queued intake (EVENT_INTAKE=queued, the production shape) and
EVENT_FAST_PATH on (its default): the inline intake enrols inside the
request and answers an exact `enrolled`, which only the view does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from rest_framework.exceptions import ValidationError

from automation import safe_json
from automation.group_commit import writer
from builder.models import Role
from config.bodylimit import Receive, Scope, Send, replay

from .auth import KEYWORD, cached_key
from .permissions import WORKSPACE_HEADER
from .serializers_events import EventSerializer, incoming_event
from .views_events import EventsView

log = logging.getLogger("cairn.http")


PATHS = frozenset({"/api/v1/events", "/api/v1/events/"})
WORKSPACE = WORKSPACE_HEADER.lower().encode()
HEADERS_READ = frozenset({b"host", b"authorization", b"content-type", WORKSPACE})
# Lower case, spaces removed.
JSON_TYPES = frozenset({"application/json", "application/json;charset=utf-8"})
# What the API view's answer carries besides its body (Django's security and
# clickjacking middleware, DRF's renderer); tests/builder compares the two.
ANSWER_HEADERS = [
    (b"content-type", b"application/json"),
    (b"vary", b"Accept"),
    (b"allow", b"POST, OPTIONS"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class Defer(Exception):
    """This request is Django's to answer."""


class FastEvents:
    """ASGI middleware in front of Django: see the module's docstring."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app
        self._serializer: EventSerializer | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._may_answer(scope):
            return await self.app(scope, receive, send)
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        try:
            workspace_id, event = self._event(scope, body)
            stored = await writer().store(workspace_id, event)
        except Defer:
            return await self.app(scope, replay(body, receive), send)
        except Exception:
            # Not stored (nothing of it is): Django stores it or answers why not.
            log.warning("the fast path could not store an event; Django takes it", exc_info=True)
            return await self.app(scope, replay(body, receive), send)
        log.debug("answered on the fast path (%s)", "stored" if stored else "a duplicate")
        answer = json.dumps(
            {"accepted": int(stored), "duplicates": int(not stored), "enrolled": None},
            separators=(",", ":"),
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [*ANSWER_HEADERS, (b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    @staticmethod
    def _may_answer(scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in PATHS
            and not scope.get("root_path")
            and not scope.get("query_string")
            and settings.EVENT_INTAKE == "queued"
            and settings.EVENT_FAST_PATH
            and not settings.SECURE_SSL_REDIRECT
        )

    def _event(self, scope: Scope, body: bytes):
        headers = _headers(scope)
        domain, _ = split_domain_port(headers.get(b"host", ""))
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            raise Defer  # Django's 400 for a host it does not serve
        key = _trusted_key(headers.get(b"authorization"))
        slug = headers.get(WORKSPACE, "").strip()
        if slug and slug != key.workspace.slug:
            raise Defer
        if Role.rank(key.role) < Role.rank(EventsView.required_roles["post"]):
            raise Defer
        if headers.get(b"content-type", "").lower().replace(" ", "") not in JSON_TYPES:
            raise Defer
        try:
            data = safe_json.loads(body.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError and UnsafeJSON are ValueErrors too
            raise Defer from None
        if not isinstance(data, dict) or "events" in data:
            raise Defer
        try:
            validated = self.serializer.run_validation(data)
        except ValidationError:
            raise Defer from None
        contact = validated["contact"]
        if contact.get("email") and contact.get("external_id"):
            raise Defer  # pending_events.check_contact_refs reads contacts: the view's job
        return key.workspace_id, incoming_event(validated)

    @property
    def serializer(self) -> EventSerializer:
        # Built once: a fresh serializer per request copies its fields, which
        # costs five times what validating does.
        if self._serializer is None:
            self._serializer = EventSerializer()
        return self._serializer


def _headers(scope: Scope) -> dict[bytes, str]:
    """The headers the fast path reads; a repeated or non-ASCII one defers."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        name = name.lower()
        if name not in HEADERS_READ:
            continue
        if name in found:
            raise Defer
        try:
            found[name] = value.decode("ascii")
        except UnicodeDecodeError:
            raise Defer from None
    return found


def _trusted_key(authorization: str | None):
    if not authorization:
        raise Defer
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != KEYWORD.lower():
        raise Defer
    key = cached_key(parts[1])
    if key is None:
        raise Defer  # Django looks it up (and this process trusts it for a while)
    return key


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body (config/bodylimit.py, in front, has capped its size)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
