"""The fast path of POST /api/v1/events (builder/api/fast_events.py).

Invariants: a client cannot tell which path answered: every request, valid or
hostile, gets the same status, body and headers, and a stored event is stored
the same, whether the fast path is on or off; the fast path answers a valid
single event without Django and hands everything else to Django with its body
intact; concurrent events are each stored exactly once and answered only
once committed; an event that cannot be stored fails its own request and no
other.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.utils import timezone

from automation.contacts import ContactRef
from automation.group_commit import EventWriter, _store_each_alone_if_need_be, writer
from automation.ingest import IncomingEvent
from automation.models import PendingEvent
from builder.api.auth import find_key
from builder.api.fast_events import FastEvents
from builder.models import Role
from tests.builder.factories import WorkspaceFactory, make_api_key
from tests.config.servers import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

QUEUED = {"EVENT_INTAKE": "queued", "API_KEY_CACHE_SECONDS": "300", "EVENT_MAX_BYTES": "2000"}
COMPARED_HEADERS = (
    "content-type",
    "vary",
    "allow",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "www-authenticate",
)


@pytest.fixture(scope="module")
def server_processes(django_db_setup, tmp_path_factory):
    """(fast, full): one uvicorn process with the fast path, one without it; the
    fast one logs each event it answers itself."""
    tmp = tmp_path_factory.mktemp("servers")
    with (
        uvicorn_server(tmp, **QUEUED, EVENT_FAST_PATH="true", LOG_LEVEL="DEBUG") as fast,
        uvicorn_server(tmp, **QUEUED, EVENT_FAST_PATH="false") as full,
    ):
        yield fast, full


@pytest.fixture(scope="module")
def servers(server_processes):
    fast, full = server_processes
    return fast.url, full.url


def answered_fast(server) -> int:
    """How many events the fast server's fast path answered itself so far."""
    return server.log_path.read_text().count("answered on the fast path")


@pytest.fixture
def keys(servers):
    """Raw API keys of one workspace by role, each already trusted by the fast server."""
    workspace = WorkspaceFactory(slug="acme")
    raw = {role: make_api_key(workspace, role)[1] for role in Role.values}
    fast, _ = servers
    for key in raw.values():
        # A key's first request goes through Django, which looks it up.
        httpx.post(f"{fast}/api/v1/events", headers={"Authorization": f"Bearer {key}"}, json=[])
    return raw


def event(**overrides) -> dict:
    body = {"id": "evt-1", "type": "signup", "contact": {"email": "ann@example.com"}}
    body.update(overrides)
    return body


ANN = {"email": "a@b.co"}
JSON = "application/json"


def raw(type_json: str, data: str = "{}") -> bytes:
    """A body written by hand: what json.dumps would never write."""
    text = f'{{"type": {type_json}, "contact": {{"email": "a@b.co"}}, "data": {data}}}'
    return text.encode("utf-8", "surrogateescape")


def deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"x": value}
    return value


# (name, role of the key or a literal Authorization value, extra headers, body bytes, path)
CASES = [
    ("minimal", Role.EDITOR, {}, event(), "/api/v1/events"),
    ("trailing slash", Role.ADMIN, {}, event(), "/api/v1/events/"),
    (
        "every field",
        Role.PUBLISHER,
        {},
        event(
            data={"score": 7, "tags": ["a", "b"], "nested": {"ok": True, "none": None}},
            occurred_at="2025-01-02T03:04:05+02:00",
            contact={
                "external_id": "u-1",
                "properties": {"plan": "pro", "gone": None},
                "time_zone": "Europe/Paris",
            },
        ),
        "/api/v1/events",
    ),
    ("email and external_id", Role.EDITOR, {}, event(contact={**ANN, "external_id": "u-2"}), ""),
    ("no id", Role.EDITOR, {}, {"type": "signup", "contact": {"email": "a@example.com"}}, ""),
    ("id padded with spaces", Role.EDITOR, {}, event(id="  evt-9  "), ""),
    ("numeric id", Role.EDITOR, {}, event(id=42), ""),
    ("unknown field ignored", Role.EDITOR, {}, event(colour="blue"), ""),
    ("naive occurred_at", Role.EDITOR, {}, event(occurred_at="2025-01-02T03:04:05"), ""),
    ("email in capitals", Role.EDITOR, {}, event(contact={"email": "Ann@Example.COM"}), ""),
    ("type too long", Role.EDITOR, {}, event(type="x" * 201), ""),
    ("empty type", Role.EDITOR, {}, event(type=""), ""),
    ("type not text", Role.EDITOR, {}, event(type=["signup"]), ""),
    ("bad email", Role.EDITOR, {}, event(contact={"email": "not-an-email"}), ""),
    ("no identity", Role.EDITOR, {}, event(contact={"properties": {"a": 1}}), ""),
    ("contact not an object", Role.EDITOR, {}, event(contact="ann"), ""),
    ("data a list", Role.EDITOR, {}, event(data=[1, 2]), ""),
    ("unknown time zone", Role.EDITOR, {}, event(contact={**ANN, "time_zone": "Mars"}), ""),
    ("long property", Role.EDITOR, {}, event(contact={**ANN, "properties": {"p" * 300: 1}}), ""),
    ("bad occurred_at", Role.EDITOR, {}, event(occurred_at="yesterday"), ""),
    ("event over EVENT_MAX_BYTES", Role.EDITOR, {}, event(data={"blob": "x" * 3000}), ""),
    ("NUL in type", Role.EDITOR, {}, raw('"sign\\u0000up"'), ""),
    ("lone surrogate", Role.EDITOR, {}, raw('"\\ud800"'), ""),
    ("infinite number", Role.EDITOR, {}, raw('"s"', data='{"n": 1e400}'), ""),
    ("NaN", Role.EDITOR, {}, raw('"s"', data='{"n": NaN}'), ""),
    ("nested too deep", Role.EDITOR, {}, event(data=deep(100)), ""),
    ("not JSON", Role.EDITOR, {}, b'{"type": "signup", ', ""),
    ("not UTF-8", Role.EDITOR, {}, raw('"sign\udcff"'), ""),
    ("a JSON list", Role.EDITOR, {}, [event()], ""),
    ("a JSON string", Role.EDITOR, {}, "signup", ""),
    ("empty body", Role.EDITOR, {}, b"", ""),
    ("a batch", Role.EDITOR, {}, {"events": [event(), event(id="evt-2")]}, ""),
    ("a batch with a duplicate", Role.EDITOR, {}, {"events": [event(), event()]}, ""),
    ("an empty batch", Role.EDITOR, {}, {"events": []}, ""),
    ("text/plain", Role.EDITOR, {"Content-Type": "text/plain"}, event(), ""),
    ("JSON in latin-1", Role.EDITOR, {"Content-Type": f"{JSON}; charset=latin-1"}, event(), ""),
    ("JSON with charset", Role.EDITOR, {"Content-Type": f"{JSON}; charset=UTF-8"}, event(), ""),
    ("query string", Role.EDITOR, {}, event(), "/api/v1/events?x=1"),
    ("NUL in query string", Role.EDITOR, {}, event(), "/api/v1/events?x=%00"),
    ("no Authorization", None, {}, event(), ""),
    ("unknown key", "Bearer cairn_nope", {}, event(), ""),
    ("key with extra words", "Bearer a b", {}, event(), ""),
    ("Basic auth", "Basic YTpi", {}, event(), ""),
    ("viewer key", Role.VIEWER, {}, event(), ""),
    ("own workspace named", Role.EDITOR, {"X-Cairn-Workspace": "acme"}, event(), ""),
    ("another workspace named", Role.EDITOR, {"X-Cairn-Workspace": "other"}, event(), ""),
    ("host not served", Role.EDITOR, {"Host": "evil.example"}, event(), ""),
]  # fmt: skip


def _send(base: str, keys: dict, case) -> httpx.Response:
    _, auth, extra, body, path = case
    headers = {"Content-Type": "application/json"}
    if auth in keys:
        headers["Authorization"] = f"Bearer {keys[auth]}"
    elif auth is not None:
        headers["Authorization"] = auth
    headers.update(extra)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{base}{path or '/api/v1/events'}", headers=headers, content=content)


def _stored() -> list[tuple]:
    rows = PendingEvent.objects.order_by("id")
    return [(row.workspace_id, row.client_id, row.payload, row.error) for row in rows]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_a_client_cannot_tell_which_path_answered(
    servers, server_processes, keys, drain_held, case
):
    fast, full = servers
    _, _, _, body, _ = case
    answers, stored = {}, {}
    fast_answers_before = answered_fast(server_processes[0])
    for label, base in (("full", full), ("fast", fast)):
        PendingEvent.objects.all().delete()
        response = _send(base, keys, case)
        answers[label] = (
            response.status_code,
            response.content,
            {h: response.headers.get(h) for h in COMPARED_HEADERS},
        )
        stored[label] = [
            (ws, client_id, _without_default_time(payload, body), error)
            for ws, client_id, payload, error in _stored()
        ]

    assert answers["fast"] == answers["full"]
    assert stored["fast"] == stored["full"]
    # …and the fast path really answered the cases it is for (were it never to
    # answer, the two servers would agree all the same).
    fast_path_answered = answered_fast(server_processes[0]) - fast_answers_before
    assert fast_path_answered == (1 if case[0] in ANSWERED_FAST else 0)


def _without_default_time(payload: dict, body) -> dict:
    sent_time = isinstance(body, dict) and "occurred_at" in body
    return payload if sent_time else {**payload, "occurred_at": "(when received)"}


def test_a_resend_to_another_web_process_is_a_duplicate(servers, keys, drain_held):
    fast, full = servers
    first, second = CASES[0], (*CASES[0][:3], event(id="evt-2"), "")

    answers = [_send(fast, keys, first), _send(full, keys, first)]
    answers += [_send(full, keys, second), _send(fast, keys, second)]

    assert [answer.json()["accepted"] for answer in answers] == [1, 0, 1, 0]
    assert PendingEvent.objects.count() == 2


# ---------------------------------------------------------------- in process


class Django:
    """Stands for the Django application behind the fast path: records what it got."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        message = await receive()
        self.bodies.append(message["body"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def call(app, body: bytes, key: str | None, *, path="/api/v1/events", headers=None) -> int:
    """One request through `app` in this process; its status."""
    path, _, query = path.partition("?")
    sent = {"host": "127.0.0.1:8000", "content-type": "application/json"}
    if key is not None:
        sent["authorization"] = f"Bearer {key}"
    sent.update({name.lower(): value for name, value in (headers or {}).items()})

    async def go() -> int:
        statuses = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "query_string": query.encode(),
            "headers": [
                (name.encode(), value.encode("utf-8", "surrogateescape"))
                for name, value in sent.items()
            ],
        }
        await app(scope, receive, send)
        await writer().close()  # this loop ends here: its writer's connection goes back
        return statuses[0]

    return asyncio.run(go())


@pytest.fixture
def trusted_key(settings, drain_held):
    """An editor key this process trusts; what the tests store stays pending."""
    settings.EVENT_INTAKE = "queued"
    workspace = WorkspaceFactory()
    _, key = make_api_key(workspace, Role.EDITOR)
    assert find_key(key) is not None  # this process now trusts it
    return key


def test_a_valid_event_is_stored_and_answered_without_django(trusted_key):
    django = Django()

    status = call(FastEvents(django), json.dumps(event()).encode(), trusted_key)

    assert status == 202
    assert django.bodies == []
    assert PendingEvent.objects.get().client_id == "evt-1"


def test_everything_else_reaches_django_with_its_body(trusted_key):
    django = Django()
    app = FastEvents(django)
    invalid = json.dumps(event(type="")).encode()
    batch = json.dumps({"events": [event()]}).encode()

    statuses = [call(app, invalid, trusted_key), call(app, batch, trusted_key)]
    statuses.append(call(app, json.dumps(event()).encode(), "cairn_unknown"))

    assert statuses == [299, 299, 299]
    assert django.bodies == [invalid, batch, json.dumps(event()).encode()]
    assert not PendingEvent.objects.exists()


# The cases of the comparison above that the fast path answers itself.
ANSWERED_FAST = {
    "minimal",
    "trailing slash",
    "every field",
    "no id",
    "id padded with spaces",
    "numeric id",
    "unknown field ignored",
    "naive occurred_at",
    "email in capitals",
    "JSON with charset",
    "own workspace named",
}


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_the_fast_path_answers_valid_single_events_and_hands_on_the_rest(settings, case):
    """What the comparison above cannot see: which path answered each case."""
    settings.EVENT_INTAKE = "queued"
    settings.EVENT_MAX_BYTES = int(QUEUED["EVENT_MAX_BYTES"])
    workspace = WorkspaceFactory(slug="acme")
    keys = {role: make_api_key(workspace, role)[1] for role in Role.values}
    for key in keys.values():
        find_key(key)
    django = Django()
    _, auth, extra, body, path = case
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = dict(extra)
    if auth not in keys and auth is not None:
        headers["Authorization"] = auth

    status = call(
        FastEvents(django), content, keys.get(auth), path=path or "/api/v1/events", headers=headers
    )

    if case[0] in ANSWERED_FAST:
        assert (status, django.bodies) == (202, [])
    else:
        assert (status, django.bodies) == (299, [content])


def test_off_with_the_inline_intake_of_the_embedded_default(trusted_key, settings):
    settings.EVENT_INTAKE = "inline"
    django = Django()

    assert call(FastEvents(django), json.dumps(event()).encode(), trusted_key) == 299
    assert len(django.bodies) == 1


def test_writers_racing_for_one_id_store_it_once(trusted_key):
    """100 events from 200 requests (each id sent twice) on 8 threads, each with
    its own event loop and so its own writer, as web processes would."""
    app = FastEvents(Django())
    bodies = [json.dumps(event(id=f"e-{n // 2}")).encode() for n in range(200)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda body: call(app, body, trusted_key), bodies))

    assert statuses == [202] * 200
    assert sorted(PendingEvent.objects.values_list("client_id", flat=True)) == sorted(
        f"e-{n}" for n in range(100)
    )


def test_one_writer_batches_concurrent_events_and_answers_duplicates(trusted_key):
    workspace_id = find_key(trusted_key).workspace_id
    event_writer = EventWriter()

    async def race() -> list[bool]:
        stored = await asyncio.gather(
            *(event_writer.store(workspace_id, incoming(f"e-{n % 50}")) for n in range(150))
        )
        await event_writer.close()
        return stored

    outcomes = asyncio.run(race())

    # Of each id sent three times, exactly the first is stored.
    assert outcomes == [True] * 50 + [False] * 100
    assert PendingEvent.objects.count() == 50


def test_an_event_that_cannot_be_stored_fails_alone(trusted_key):
    """Its workspace was deleted while its request was in flight."""
    kept = find_key(trusted_key).workspace_id
    gone = WorkspaceFactory()
    gone_id = gone.pk
    gone.delete()
    items = [(kept, incoming("a")), (gone_id, incoming("b")), (kept, incoming("c"))]

    outcomes = _store_each_alone_if_need_be(items)

    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], Exception)
    assert sorted(PendingEvent.objects.values_list("client_id", flat=True)) == ["a", "c"]


def incoming(client_id: str) -> IncomingEvent:
    return IncomingEvent(
        type="signup",
        contact=ContactRef(email="ann@example.com"),
        data={},
        occurred_at=timezone.now(),
        client_id=client_id,
    )
