"""Segment-style track / identify / batch map into Cairn's events and contacts.

Invariants: a track is an event of that name that triggers workflows like
any other (deduplicated by messageId); an identify merges traits into the
contact; a bad message is a 400 naming its field and nothing is stored.
"""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from automation.models import Contact, Event, Run
from builder.models import Role
from tests.builder.factories import make_api_key, published_workflow, signup_graph

pytestmark = pytest.mark.django_db

TRACK = {
    "type": "track",
    "userId": "u-42",
    "event": "signup",
    "messageId": "ajs-1",
    "timestamp": "2025-03-05T14:30:00Z",
    "properties": {"plan": "pro"},
    "context": {"traits": {"email": "Ada@Example.com"}, "timezone": "Europe/Paris"},
}


def test_track_is_an_event_that_enrols(client_for, workspace_a):
    published_workflow(workspace_a, graph=signup_graph("signup"))
    api = client_for(Role.EDITOR)

    response = api.post("/api/v1/segment/track", TRACK, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "success": True,
        "accepted": 1,
        "duplicates": 0,
        "enrolled": 1,
        "identified": 0,
    }
    event = Event.objects.get()
    assert (event.type, event.client_id, event.data) == ("signup", "ajs-1", {"plan": "pro"})
    assert event.occurred_at.isoformat() == "2025-03-05T14:30:00+00:00"
    contact = event.contact
    assert (contact.external_id, contact.email, contact.time_zone) == (
        "u-42",
        "ada@example.com",
        "Europe/Paris",
    )
    assert Run.objects.count() == 1
    again = api.post("/api/v1/segment/track", TRACK, format="json")
    assert again.json()["duplicates"] == 1
    assert Run.objects.count() == 1


def test_identify_merges_traits_into_the_contact(client_for):
    api = client_for(Role.EDITOR)
    api.post(
        "/api/v1/segment/identify",
        {"userId": "u-7", "traits": {"email": "bo@example.com", "name": "Bo", "plan": "free"}},
        format="json",
    )
    response = api.post(
        "/api/v1/segment/identify", {"userId": "u-7", "traits": {"plan": "pro"}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["identified"] == 1
    contact = Contact.objects.get()
    assert contact.email == "bo@example.com"
    assert contact.properties == {"name": "Bo", "plan": "pro"}


def test_anonymous_visitors_get_an_external_id(client_for):
    message = {"anonymousId": "anon-9", "event": "viewed_pricing"}
    response = client_for(Role.EDITOR).post("/api/v1/segment/track", message, format="json")
    assert response.status_code == 200
    assert Contact.objects.get().external_id == "anonymous:anon-9"


def test_a_batch_is_all_or_nothing_and_names_the_field(client_for):
    api = client_for(Role.EDITOR)
    bad = {
        "batch": [
            {**TRACK, "messageId": "b-1"},
            {"type": "identify", "userId": "u-1", "traits": {"email": "not-an-email"}},
        ]
    }
    response = api.post("/api/v1/segment/batch", bad, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("batch[1].traits.email:")
    assert not Event.objects.exists() and not Contact.objects.exists()

    good = {
        "batch": [
            {**TRACK, "messageId": "b-1"},
            {"type": "identify", "userId": "u-42", "traits": {"vip": True}},
        ]
    }
    done = api.post("/api/v1/segment/batch", good, format="json")
    assert done.status_code == 200
    assert done.json()["accepted"] == 1 and done.json()["identified"] == 1
    assert Contact.objects.get(external_id="u-42").properties == {"vip": True}


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"userId": "u"}, "event"),
        ({"event": "x"}, "userId"),
        ({"event": "x", "userId": "u", "timestamp": "yesterday"}, "timestamp"),
        ({"event": "x", "userId": "u", "properties": [1]}, "properties"),
        ({"event": "x", "userId": "u", "context": {"timezone": "Mars/Base"}}, "context.timezone"),
    ],
)
def test_bad_track_messages_are_a_400_naming_the_field(client_for, message, field):
    response = client_for(Role.EDITOR).post("/api/v1/segment/track", message, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{field}:")
    assert not Event.objects.exists()


def test_segment_write_key_basic_auth_and_roles(workspace_a):
    _key, raw = make_api_key(workspace_a, Role.EDITOR)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{raw}:".encode()).decode())
    assert client.post("/api/v1/segment/track", TRACK, format="json").status_code == 200

    _key, viewer = make_api_key(workspace_a, Role.VIEWER)
    client.credentials(
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{viewer}:".encode()).decode()
    )
    assert client.post("/api/v1/segment/track", TRACK, format="json").status_code == 403
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"wrong:").decode())
    assert client.post("/api/v1/segment/track", TRACK, format="json").status_code == 401
    assert APIClient().post("/api/v1/segment/track", TRACK, format="json").status_code == 401
