"""Contacts API: upsert by external_id or email, PATCH semantics, triggers firing on change."""

from __future__ import annotations

import pytest

from automation.models import Contact, Run
from tests.builder.factories import ContactFactory, published_workflow, trigger_graph

pytestmark = pytest.mark.django_db

CONTACT_FIELDS = {"id", "email", "external_id", "properties", "tags"}


def test_upsert_creates_then_updates_by_email(client_a, workspace_a):
    created = client_a.post(
        "/api/v1/contacts/",
        {"email": "Ada@Example.com", "properties": {"plan": "free", "age": 36}, "tags": ["a"]},
        format="json",
    )
    updated = client_a.post(
        "/api/v1/contacts",
        {"email": "ada@example.com", "properties": {"plan": "pro", "age": None}, "tags": ["b"]},
        format="json",
    )

    assert created.status_code == 201, created.data
    assert set(created.data) >= CONTACT_FIELDS
    assert created.data["email"] == "ada@example.com"
    assert updated.status_code == 200, updated.data
    assert updated.data["id"] == created.data["id"]
    assert updated.data["properties"] == {"plan": "pro"}
    assert updated.data["tags"] == ["b"]
    assert Contact.objects.filter(workspace=workspace_a).count() == 1


def test_upsert_by_external_id_attaches_the_email(client_a):
    first = client_a.post("/api/v1/contacts/", {"external_id": "u-1"}, format="json")
    second = client_a.post(
        "/api/v1/contacts/", {"external_id": "u-1", "email": "u1@example.com"}, format="json"
    )

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.data["email"] == "u1@example.com"
    assert Contact.objects.count() == 1


def test_upsert_by_email_attaches_the_external_id(client_a, workspace_a):
    contact = ContactFactory(workspace=workspace_a, email="x@example.com")

    response = client_a.post(
        "/api/v1/contacts/", {"external_id": "u-9", "email": "x@example.com"}, format="json"
    )

    assert response.status_code == 200
    assert response.data["id"] == contact.pk
    assert response.data["external_id"] == "u-9"


def test_upsert_refuses_an_email_owned_by_another_external_id(client_a, workspace_a):
    ContactFactory(workspace=workspace_a, email="x@example.com", external_id="u-1")

    response = client_a.post(
        "/api/v1/contacts/", {"external_id": "u-2", "email": "x@example.com"}, format="json"
    )

    # Another contact holds the email: the stored contacts refuse it (409).
    assert response.status_code == 409
    assert response.data["detail"].startswith("email:")
    assert Contact.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"properties": {"plan": "pro"}}, "email"),
        ({"email": None, "external_id": None}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.com", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"email": "a@example.com", "properties": ["plan"]}, "properties"),
        ({"email": "a@example.com", "tags": "vip"}, "tags"),
        ({"email": "a@example.com", "tags": [""]}, "tags[0]"),
        ({"external_id": "x" * 201}, "external_id"),
    ],
)
def test_bad_contact_input_is_refused_naming_the_field(client_a, body, field):
    response = client_a.post("/api/v1/contacts/", body, format="json")

    assert response.status_code == 400
    assert response.data["detail"].startswith(f"{field}:")
    assert field in response.data["errors"]
    assert Contact.objects.count() == 0


def test_missing_identity_names_both_fields(client_a):
    response = client_a.post("/api/v1/contacts/", {}, format="json")

    assert response.status_code == 400
    assert "email" in response.data["detail"]
    assert "external_id" in response.data["detail"]


def test_patch_merges_properties_and_replaces_tags(client_a, workspace_a):
    contact = ContactFactory(
        workspace=workspace_a, properties={"plan": "free", "age": 3}, tags=["a", "b"]
    )

    response = client_a.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"properties": {"plan": "pro", "age": None, "city": "Oslo"}, "tags": ["c"]},
        format="json",
    )

    assert response.status_code == 200, response.data
    assert response.data["properties"] == {"plan": "pro", "city": "Oslo"}
    assert response.data["tags"] == ["c"]
    contact.refresh_from_db()
    assert contact.properties == {"plan": "pro", "city": "Oslo"}


def test_patch_leaves_out_fields_alone(client_a, workspace_a):
    contact = ContactFactory(workspace=workspace_a, properties={"plan": "free"}, tags=["a"])

    response = client_a.patch(
        f"/api/v1/contacts/{contact.pk}", {"time_zone": "Europe/Paris"}, format="json"
    )

    assert response.status_code == 200
    assert response.data["time_zone"] == "Europe/Paris"
    assert response.data["properties"] == {"plan": "free"}
    assert response.data["tags"] == ["a"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Nowhere/Land"}, "time_zone"),
        ({"email": "taken@example.com"}, "email"),
        ({"email": None}, "email"),
        ({"properties": "plan"}, "properties"),
    ],
)
def test_bad_patch_is_refused_and_changes_nothing(client_a, workspace_a, body, field):
    # A bad value is a 400; one the other contacts (or the contact's last identity)
    # refuse is a 409 with the same body.
    expected = 409 if field == "email" else 400
    ContactFactory(workspace=workspace_a, email="taken@example.com")
    contact = ContactFactory(workspace=workspace_a, email="me@example.com", properties={"a": 1})

    response = client_a.patch(f"/api/v1/contacts/{contact.pk}/", body, format="json")

    assert response.status_code == expected
    assert response.data["detail"].startswith(f"{field}:")
    contact.refresh_from_db()
    assert (contact.email, contact.properties, contact.time_zone) == (
        "me@example.com",
        {"a": 1},
        "UTC",
    )


def test_patch_fires_property_triggers(client_a, workspace_a):
    workflow = published_workflow(
        workspace_a, graph=trigger_graph("trigger.property", {"property": "plan"})
    )
    contact = ContactFactory(workspace=workspace_a, properties={"plan": "free"})

    response = client_a.patch(
        f"/api/v1/contacts/{contact.pk}/", {"properties": {"plan": "pro"}}, format="json"
    )

    assert response.status_code == 200
    assert Run.objects.filter(workflow=workflow, contact=contact).count() == 1


def test_upsert_fires_segment_triggers(client_a, workspace_a):
    workflow = published_workflow(
        workspace_a, graph=trigger_graph("trigger.segment", {"tag": "beta"})
    )

    response = client_a.post(
        "/api/v1/contacts/", {"email": "b@example.com", "tags": ["beta"]}, format="json"
    )

    assert response.status_code == 201
    assert Run.objects.filter(workflow=workflow, contact_id=response.data["id"]).count() == 1


def test_list_and_filter_by_email(client_a, workspace_a):
    ContactFactory(workspace=workspace_a, email="one@example.com")
    ContactFactory(workspace=workspace_a, email="two@example.com")

    everything = client_a.get("/api/v1/contacts/")
    one = client_a.get("/api/v1/contacts/", {"email": "ONE@example.com"})

    assert everything.data["count"] == 2
    assert [c["email"] for c in one.data["results"]] == ["one@example.com"]


def test_retrieve_a_contact(client_a, workspace_a):
    contact = ContactFactory(workspace=workspace_a, external_id="u-7")

    response = client_a.get(f"/api/v1/contacts/{contact.pk}/")

    assert response.status_code == 200
    assert response.data["external_id"] == "u-7"
