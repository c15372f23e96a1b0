"""trigger.webhook deliveries are verified per Standard Webhooks.

Invariants: only a delivery signed with one of the workflow's own current
secrets, over its exact id, timestamp and body, within five minutes of now,
and never seen before, stores an event and enrols; every refusal stores
nothing. A paused workflow answers 409 and an archived one 410.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from automation.models import Contact, Event, Run
from automation.webhooks import webhook_path
from builder import services
from builder.models import Role
from integrations.models import InboundDelivery, WebhookSecret
from tests.builder.factories import published_workflow, trigger_graph
from tests.integrations.signing import sign, signed_post, workflow_secret

pytestmark = pytest.mark.django_db

PAYLOAD = {"contact": {"email": "w@example.com"}, "data": {"plan": "pro"}}


@pytest.fixture
def hooked(workspace_a):
    return published_workflow(workspace_a, graph=trigger_graph("trigger.webhook", {}))


@pytest.fixture
def secret(hooked):
    return workflow_secret(hooked)


def nothing_stored():
    return not Event.objects.exists() and not Run.objects.exists() and not Contact.objects.exists()


def test_a_valid_signature_is_accepted_and_enrols(hooked, secret):
    response = signed_post(webhook_path(hooked.pk), PAYLOAD, secret)

    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 1, "duplicates": 0, "enrolled": 1}
    assert Run.objects.get().workflow_id == hooked.pk
    assert Event.objects.get().data == {"plan": "pro"}


def test_a_tampered_body_is_refused(hooked, secret):
    signed = json.dumps(PAYLOAD).encode()
    tampered = signed.replace(b'"pro"', b'"enterprise"')
    timestamp = int(time.time())
    response = signed_post(
        webhook_path(hooked.pk),
        None,
        secret,
        msg_id="msg_1",
        timestamp=timestamp,
        body=tampered,
        signature=sign(secret, "msg_1", timestamp, signed),
    )
    assert response.status_code == 401
    assert "signature" in response.json()["detail"]
    assert nothing_stored()


def test_a_wrong_secret_is_refused(hooked, secret, workspace_a):
    other = published_workflow(workspace_a, graph=trigger_graph("trigger.webhook", {}))
    response = signed_post(webhook_path(hooked.pk), PAYLOAD, workflow_secret(other))
    assert response.status_code == 401
    assert nothing_stored()


# Just outside the five minutes either way; a future timestamp gets a few
# seconds more, since the server's clock moves on while the request is made.
@pytest.mark.parametrize("offset", [-301, 305, -3600])
def test_a_stale_or_future_timestamp_is_refused(hooked, secret, offset):
    response = signed_post(
        webhook_path(hooked.pk), PAYLOAD, secret, timestamp=int(time.time()) + offset
    )
    assert response.status_code == 401
    assert "webhook-timestamp" in response.json()["detail"]
    assert nothing_stored()


def test_a_replayed_id_is_refused(hooked, secret):
    timestamp = int(time.time())
    first = signed_post(
        webhook_path(hooked.pk), PAYLOAD, secret, msg_id="msg_a", timestamp=timestamp
    )
    assert first.status_code == 202
    # The captured request, byte for byte, sent again within the window.
    again = signed_post(
        webhook_path(hooked.pk), PAYLOAD, secret, msg_id="msg_a", timestamp=timestamp
    )
    assert again.status_code == 409
    assert "already received" in again.json()["detail"]
    assert Event.objects.count() == 1
    assert Run.objects.count() == 1


def test_an_unsigned_request_is_refused(hooked, secret):
    from rest_framework.test import APIClient

    response = APIClient().post(webhook_path(hooked.pk), PAYLOAD, format="json")
    assert response.status_code == 401
    assert "webhook-signature" in response.json()["detail"]
    assert nothing_stored()


def test_a_workflow_without_a_secret_says_how_to_get_one(hooked):
    response = signed_post(webhook_path(hooked.pk), PAYLOAD, "whsec_" + "A" * 44)
    assert response.status_code == 401
    assert f"/api/v1/workflows/{hooked.pk}/webhook-secrets" in response.json()["detail"]


def test_several_signatures_one_of_them_valid_is_accepted(hooked, secret):
    timestamp = int(time.time())
    raw = json.dumps(PAYLOAD).encode()
    good = sign(secret, "msg_multi", timestamp, raw)
    response = signed_post(
        webhook_path(hooked.pk),
        None,
        secret,
        msg_id="msg_multi",
        timestamp=timestamp,
        body=raw,
        signature=f"v1,bm90IGl0 {good}",
    )
    assert response.status_code == 202


def test_rotation_keeps_the_old_secret_working_for_the_overlap(hooked, secret):
    _new, fresh = WebhookSecret.rotate(hooked.pk, overlap=timedelta(hours=1))
    assert signed_post(webhook_path(hooked.pk), PAYLOAD, secret).status_code == 202
    assert signed_post(webhook_path(hooked.pk), PAYLOAD, fresh).status_code == 202
    # The overlap ends: the old secret stops, the new one goes on.
    WebhookSecret.objects.exclude(pk=_new.pk).update(expires_at=timezone.now())
    assert signed_post(webhook_path(hooked.pk), PAYLOAD, secret).status_code == 401
    assert signed_post(webhook_path(hooked.pk), PAYLOAD, fresh).status_code == 202


@pytest.mark.parametrize(
    ("status", "code", "word"), [("paused", 409, "paused"), ("archived", 410, "archived")]
)
def test_paused_and_archived_workflows_answer_so(hooked, secret, status, code, word):
    if status == "archived":
        services.change_status(hooked, "paused")
        hooked.refresh_from_db()
    services.change_status(hooked, status)
    response = signed_post(webhook_path(hooked.pk), PAYLOAD, secret)
    assert response.status_code == code
    assert word in response.json()["detail"]
    assert nothing_stored()


def test_old_deliveries_are_forgotten(hooked, secret):
    signed_post(webhook_path(hooked.pk), PAYLOAD, secret, msg_id="msg_old")
    InboundDelivery.objects.update(received_at=timezone.now() - timedelta(hours=2))
    signed_post(webhook_path(hooked.pk), PAYLOAD, secret, msg_id="msg_new")
    assert list(InboundDelivery.objects.values_list("webhook_id", flat=True)) == ["msg_new"]


def test_a_wide_tolerance_remembers_ids_for_as_long_as_a_replay_could_pass(
    settings, hooked, secret
):
    """Invariant: while a delivery's timestamp is still within the tolerance, its
    webhook-id is still remembered, whatever the tolerance is set to."""
    settings.INBOUND_WEBHOOK_TOLERANCE_SECONDS = 2 * 3600
    sent_at = int(time.time()) - 90 * 60  # signed and first received 90 minutes ago
    first = signed_post(
        webhook_path(hooked.pk), PAYLOAD, secret, msg_id="msg_slow", timestamp=sent_at
    )
    assert first.status_code == 202
    InboundDelivery.objects.update(received_at=timezone.now() - timedelta(minutes=90))

    # The captured request again: its timestamp is 90 minutes old, inside the
    # two-hour tolerance, so only the remembered id can refuse it.
    replay = signed_post(
        webhook_path(hooked.pk), PAYLOAD, secret, msg_id="msg_slow", timestamp=sent_at
    )

    assert replay.status_code == 409
    assert "already received" in replay.json()["detail"]
    assert Run.objects.count() == 1
    # Four hours on (twice the tolerance and more), the id may be forgotten.
    InboundDelivery.objects.update(received_at=timezone.now() - timedelta(hours=4, minutes=2))
    signed_post(webhook_path(hooked.pk), PAYLOAD, secret, msg_id="msg_next")
    assert list(InboundDelivery.objects.values_list("webhook_id", flat=True)) == ["msg_next"]


# ------------------------------------------------------------------ secrets API


def test_a_publisher_rotates_and_sees_the_new_secret_once(client_for, hooked, secret):
    publisher = client_for(Role.PUBLISHER)
    url = f"/api/v1/workflows/{hooked.pk}/webhook-secrets"

    created = publisher.post(url, {"overlap_hours": 2}, format="json")

    assert created.status_code == 201
    raw = created.json()["secret"]
    assert raw.startswith("whsec_")
    listed = client_for(Role.EDITOR).get(url)
    assert listed.status_code == 200
    text = json.dumps(listed.json())
    assert raw not in text and secret not in text
    assert len(listed.json()) == 2  # the new one and the one in its overlap
    ends = [s["expires_at"] for s in listed.json()]
    assert ends.count(None) == 1
    assert signed_post(webhook_path(hooked.pk), PAYLOAD, raw).status_code == 202


def test_roles_for_webhook_secrets(client_for, hooked):
    url = f"/api/v1/workflows/{hooked.pk}/webhook-secrets"
    assert client_for(Role.EDITOR).post(url, {}, format="json").status_code == 403
    assert client_for(Role.VIEWER).get(url).status_code == 403


def test_another_workspace_cannot_rotate(client_b, hooked):
    response = client_b.post(f"/api/v1/workflows/{hooked.pk}/webhook-secrets", {}, format="json")
    assert response.status_code == 404
    assert not WebhookSecret.objects.exists()
