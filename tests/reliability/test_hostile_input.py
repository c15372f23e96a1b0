"""Hostile input at every door: a 400 that names the field, and nothing written.

Invariant: no request body or query parameter can make the API answer 500.
NUL characters and lone surrogates cannot be stored by PostgreSQL, nesting
past a few hundred levels overflows the parser's recursion, and Infinity or
1e400 cannot be written to a JSON column; each is refused before anything is
stored, with the path of the offending value in `errors`.
"""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from automation.models import Contact, Event, Run
from automation.webhooks import webhook_path
from builder.models import Workflow
from tests.builder.conftest import key_client
from tests.builder.factories import (
    WorkflowFactory,
    WorkspaceFactory,
    published_workflow,
    trigger_graph,
)
from tests.integrations.signing import signed_post, workflow_secret

pytestmark = pytest.mark.django_db

NUL = "\\u0000"  # as JSON escapes inside a raw body
SURROGATE = "\\ud800"


@pytest.fixture
def ws():
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def api(ws) -> APIClient:
    return key_client(ws)


def post_raw(client: APIClient, path: str, body: str, method: str = "post"):
    return getattr(client, method)(path, data=body.encode(), content_type="application/json")


def refused(response, field_prefix: str) -> str:
    """Assert a 400 whose errors name a field starting with field_prefix; return that field."""
    assert response.status_code == 400, (response.status_code, getattr(response, "data", None))
    errors = response.json()["errors"]
    fields = [name for name in errors if name.startswith(field_prefix)]
    assert fields, f"no error names {field_prefix!r}: {errors}"
    return fields[0]


def nothing_stored() -> bool:
    return not Event.objects.exists() and not Contact.objects.exists() and not Run.objects.exists()


def event_body(data_json: str = "{}", type_json: str = '"signup"', props_json: str = "{}") -> str:
    return (
        f'{{"id": "e1", "type": {type_json}, '
        f'"contact": {{"email": "a@example.com", "properties": {props_json}}}, '
        f'"data": {data_json}}}'
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (event_body(data_json=f'{{"note": "a{NUL}b"}}'), "data.note"),
        (event_body(data_json=f'{{"note": "a{SURROGATE}b"}}'), "data.note"),
        (event_body(data_json=f'{{"k{NUL}": 1}}'), "data."),
        (event_body(data_json=f'{{"{SURROGATE}": 1}}'), "data."),
        (event_body(type_json=f'"sign{NUL}up"'), "type"),
        (event_body(props_json=f'{{"plan": "p{SURROGATE}"}}'), "contact.properties.plan"),
        (event_body(data_json='{"total": 1e400}'), "data.total"),
        (event_body(data_json='{"total": Infinity}'), "data.total"),
        (event_body(data_json='{"total": NaN}'), "data.total"),
        (event_body(data_json="[" * 5000 + "]" * 5000), "data"),
        (event_body(data_json='{"a": ' * 300 + "1" + "}" * 300), "data.a.a"),
    ],
    ids=[
        "nul-value",
        "surrogate-value",
        "nul-key",
        "surrogate-key",
        "nul-type",
        "surrogate-property",
        "1e400",
        "infinity",
        "nan",
        "5000-deep",
        "300-deep",
    ],
)
def test_hostile_single_event_is_a_400_naming_the_field(api, body, field):
    response = post_raw(api, "/api/v1/events", body)

    refused(response, field)
    assert nothing_stored()


def test_hostile_event_in_a_batch_names_its_index(api):
    good = event_body()
    bad = event_body(data_json=f'{{"x": ["ok", "b{NUL}"]}}').replace('"e1"', '"e2"')
    response = post_raw(api, "/api/v1/events", f'{{"events": [{good}, {bad}]}}')

    assert refused(response, "events[1].data.x[1]") == "events[1].data.x[1]"
    assert nothing_stored()


def test_error_body_itself_is_valid_json_without_the_hostile_characters(api):
    response = post_raw(api, "/api/v1/events", event_body(data_json=f'{{"{SURROGATE}": 1}}'))

    assert response.status_code == 400
    text = response.content.decode("utf-8")  # a lone surrogate would not even encode
    assert "\x00" not in text
    json.loads(text)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (f'{{"email": "c@example.com", "properties": {{"name": "x{NUL}"}}}}', "properties.name"),
        (f'{{"email": "c@example.com", "tags": ["vip", "{SURROGATE}"]}}', "tags[1]"),
        (f'{{"external_id": "id{NUL}"}}', "external_id"),
        ('{"email": "c@example.com", "properties": ' + "[" * 3000 + "]" * 3000 + "}", "properties"),
    ],
    ids=["nul-property", "surrogate-tag", "nul-external-id", "deep-properties"],
)
def test_hostile_contact_upsert_is_a_400(api, body, field):
    response = post_raw(api, "/api/v1/contacts/", body)

    refused(response, field)
    assert not Contact.objects.exists()


def test_hostile_contact_patch_is_a_400_and_changes_nothing(api, ws):
    contact = Contact.objects.create(workspace=ws, email="c@example.com", properties={"a": 1})
    response = post_raw(
        api, f"/api/v1/contacts/{contact.pk}/", f'{{"properties": {{"a": "{NUL}"}}}}', "patch"
    )

    refused(response, "properties.a")
    contact.refresh_from_db()
    assert contact.properties == {"a": 1}


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/contacts/?email=a%00b", "email"),
        ("/api/v1/contacts/?external_id=%00", "external_id"),
        ("/api/v1/workflows/?status=%00", "status"),
    ],
)
def test_nul_in_a_query_parameter_is_a_400_naming_it(api, path, field):
    response = api.get(path)

    refused(response, field)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda text: text.replace('"Signed up"', '"Signed' + NUL + ' up"', 1), "nodes["),
        (lambda text: text.replace('"x": 0', '"x": 1e400', 1), "nodes["),
        (lambda text: text.replace('"x": 0', '"x": Infinity', 1), "nodes["),
        (
            lambda text: text.replace('"settings": {', '"settings": {"' + SURROGATE + '": 1, '),
            "settings.",
        ),
        (lambda text: text[:-1] + ', "viewport": ' + "[" * 4000 + "]" * 4000 + "}", "viewport"),
    ],
    ids=["nul", "1e400", "infinity", "surrogate-key", "deep"],
)
def test_hostile_draft_is_a_400_and_keeps_the_old_draft(api, ws, mutate, field):
    workflow = WorkflowFactory(workspace=ws, name="Welcome")
    before = workflow.draft
    text = json.dumps(before)
    hostile = mutate(text)
    assert hostile != text, "the mutation found nothing to change"

    response = post_raw(api, f"/api/v1/workflows/{workflow.pk}/draft", hostile, "put")

    refused(response, field)
    assert Workflow.objects.get(pk=workflow.pk).draft == before


def test_a_node_id_longer_than_the_runtime_stores_is_refused_naming_it(api, ws):
    graph = trigger_graph("trigger.event", {"event": "signup"})
    long_id = "n" * 150
    for node in graph["nodes"]:
        if node["id"] != graph["edges"][0]["source"]:
            old = node["id"]
            node["id"] = long_id
            for edge in graph["edges"]:
                if edge["target"] == old:
                    edge["target"] = long_id
    workflow = WorkflowFactory(workspace=ws, name="Long ids", draft={"nodes": [], "edges": []})

    saved = api.put(f"/api/v1/workflows/{workflow.pk}/draft", graph, format="json")
    published = api.post(f"/api/v1/workflows/{workflow.pk}/publish", {}, format="json")

    # Either the draft save or the publish refuses it; the publish never stores a version.
    assert saved.status_code in (200, 400)
    issues = saved.json().get("issues") or []
    assert any(i["node"] == long_id and i["field"] == "id" for i in issues), issues
    assert published.status_code == 409  # the stored draft refuses (docs/api.md)
    assert not workflow.versions.exists()


def test_hostile_inbound_webhook_is_a_400(ws):
    hooked = published_workflow(ws, graph=trigger_graph("trigger.webhook", {}))
    body = f'{{"id": "d1", "contact": {{"email": "w@example.com"}}, "data": {{"x": "{NUL}"}}}}'

    secret = workflow_secret(hooked)  # deliveries are signed (Standard Webhooks)

    response = signed_post(webhook_path(hooked.pk), None, secret, body=body.encode())

    refused(response, "data.x")
    assert not Event.objects.exists()
    deep = '{"contact": {"email": "w@example.com"}, "data": ' + "[" * 5000 + "]" * 5000 + "}"
    refused(signed_post(webhook_path(hooked.pk), None, secret, body=deep.encode()), "data")
