"""Mixpanel, SMS (Twilio-compatible) and web push (VAPID) against a real HTTP
server on 127.0.0.1: the exact requests each API documents.
"""

from __future__ import annotations

import base64
import json
import os
from urllib.parse import parse_qs, urlsplit

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02, b64urlencode

from automation.nodes.base import NodeError, PermanentNodeError
from integrations.http.guard import OutboundRefused
from integrations.mixpanel.nodes import MixpanelTrack
from integrations.push.nodes import WebPush
from integrations.sms.nodes import SendSms
from tests.automation.node_helpers import NOW, make_contact
from tests.integrations.provider_helpers import conn, run

# ------------------------------------------------------------------ Mixpanel


def mixpanel(service):
    return conn(
        "mixpanel",
        service,
        settings={"project_id": "3141", "username": "cairn.sa"},
        secrets={"secret": "sa-secret-xyz"},
    )


def test_mixpanel_imports_the_milestone_with_a_stable_insert_id(service):
    service.answer(200, {"code": 200, "num_records_imported": 1, "status": "OK"})
    config = {"event": "Onboarding completed", "properties": {"plan": "{{ contact.plan }}"}}
    result = run(MixpanelTrack, config, mixpanel(service), workflow_id="wf-1", run_id="run-1")
    run(MixpanelTrack, config, mixpanel(service), workflow_id="wf-1", run_id="run-1")  # a retry

    request = service.requests[0]
    url = urlsplit(request["path"])
    assert (request["method"], url.path) == ("POST", "/import")
    assert parse_qs(url.query) == {"strict": ["1"], "project_id": ["3141"]}
    pair = base64.b64encode(b"cairn.sa:sa-secret-xyz").decode()
    assert request["headers"]["authorization"] == f"Basic {pair}"
    [event] = service.json(0)
    assert event["event"] == "Onboarding completed"
    properties = event["properties"]
    assert properties["distinct_id"] == "u-1"
    assert properties["time"] == int(NOW.timestamp() * 1000)
    assert properties["plan"] == "pro"
    assert (properties["workflow_id"], properties["run_id"]) == ("wf-1", "run-1")
    # Mixpanel deduplicates on $insert_id: the retry carries the same one.
    assert service.json(1)[0]["properties"]["$insert_id"] == properties["$insert_id"]
    assert result.output == {
        "event": "Onboarding completed",
        "imported": 1,
        "response": {
            "status": 200,
            "body": {"code": 200, "num_records_imported": 1, "status": "OK"},
            "content_type": "application/json",
        },
    }


@pytest.mark.django_db
def test_a_retried_mixpanel_event_is_the_same_event(settings, service):
    """Invariant: Mixpanel deduplicates on $insert_id together with the event's
    `time`, so every attempt of one visit sends both unchanged (the time of the
    visit's first attempt, not of the retry)."""
    import time
    from datetime import timedelta

    from django.utils import timezone

    from automation import timers
    from automation.engine import Outcome, advance_run
    from automation.models import Run, Step
    from integrations.models import Connection
    from tests.automation.workflows import chain, graph, node, published, send, workspace

    settings.ACTION_RETRY_BASE_SECONDS = 1
    made = Connection(
        workspace=workspace(),
        provider="mixpanel",
        name="Mixpanel",
        settings={"base_url": service.url, "project_id": "3141", "username": "cairn.sa"},
    )
    made.set_secrets({"secret": "sa-secret-xyz"})
    made.save()
    start = node("start", "trigger.event", event="onboarded")
    track = node("track", "action.mixpanel", connection=str(made.pk), event="Onboarded")
    published(graph([start, track], chain(start, track)))
    service.answer(500, b"busy")
    service.answer(200, {"code": 200, "num_records_imported": 1, "status": "OK"})
    send("onboarded", "ada@example.com")
    run = Run.objects.get()

    assert advance_run(run.pk) is Outcome.WAITING  # the 500: retried later
    time.sleep(0.05)  # the retry happens at another moment
    Run.objects.filter(pk=run.pk).update(resume_at=timezone.now() - timedelta(seconds=1))
    assert timers.sweep_due_runs() == 1
    assert advance_run(run.pk) is Outcome.COMPLETED

    first, retry = (service.json(i)[0]["properties"] for i in (0, 1))
    assert retry["$insert_id"] == first["$insert_id"]
    assert retry["time"] == first["time"]
    step = Step.objects.get(run=run, node_id="track")
    assert step.attempt == 2
    assert first["time"] == int(step.started_at.timestamp() * 1000)


def test_mixpanel_bad_request_is_permanent(service):
    service.answer(400, {"code": 400, "error": "some data points in the request failed validation"})
    with pytest.raises(PermanentNodeError, match="400"):
        run(MixpanelTrack, {"event": "x"}, mixpanel(service))


# ------------------------------------------------------------------ SMS


def sms(service):
    return conn(
        "sms",
        service,
        settings={"account_sid": "AC123", "from_number": "+15005550006"},
        secrets={"auth_token": "twilio-token-1"},
    )


PHONE = make_contact(properties={"first_name": "Ada", "phone": "+44 7700 900123"})


def test_sms_posts_a_twilio_message_form(service):
    service.answer(201, {"sid": "SM87", "status": "queued"})
    result = run(
        SendSms,
        {"body": "Hi {{ contact.first_name }}, your code is 42"},
        sms(service),
        contact=PHONE,
    )
    request = service.requests[0]
    assert (request["method"], request["path"]) == (
        "POST",
        "/2010-04-01/Accounts/AC123/Messages.json",
    )
    pair = base64.b64encode(b"AC123:twilio-token-1").decode()
    assert request["headers"]["authorization"] == f"Basic {pair}"
    assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request["body"].decode()) == {
        "To": ["+447700900123"],
        "From": ["+15005550006"],
        "Body": ["Hi Ada, your code is 42"],
    }
    assert {k: v for k, v in result.output.items() if k != "response"} == {
        "to": "+447700900123",
        "sid": "SM87",
        "status": "queued",
    }
    assert result.output["response"]["status"] == 201


def test_sms_refuses_a_number_that_is_not_e164_and_skips_opted_out(service):
    with pytest.raises(PermanentNodeError, match=r"E\.164"):
        run(SendSms, {"body": "x"}, sms(service), contact=make_contact())
    opted_out = make_contact(properties={"phone": "+447700900123", "sms_opt_out": True})
    result = run(SendSms, {"body": "x"}, sms(service), contact=opted_out)
    assert result.output["skipped"] is True
    assert service.requests == []


def test_sms_rate_limit_is_retried_after_the_time_asked(service):
    service.answer(
        429, {"code": 20429, "message": "Too Many Requests"}, headers={"Retry-After": "7"}
    )
    with pytest.raises(NodeError) as caught:
        run(SendSms, {"body": "x"}, sms(service), contact=PHONE)
    assert caught.value.retry_after == 7


# ------------------------------------------------------------------ web push


@pytest.fixture
def vapid():
    keys = Vapid02()
    keys.generate_keys()
    raw = keys.private_key.private_numbers().private_value.to_bytes(32, "big")
    return keys, b64urlencode(raw)


def browser_subscription(endpoint):
    """What a browser's PushSubscription.toJSON() gives, and the keys to decrypt with."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = os.urandom(16)
    subscription = {
        "endpoint": endpoint,
        "keys": {"p256dh": b64urlencode(public), "auth": b64urlencode(auth)},
    }
    return subscription, private, auth


def push_conn(service, private_key):
    return conn(
        "webpush",
        service,
        settings={"subject": "mailto:ops@acme.example"},
        secrets={"private_key": private_key},
    )


def test_push_sends_an_encrypted_payload_with_vapid(service, vapid):
    keys, private_key = vapid
    subscription, receiver, auth = browser_subscription(f"{service.url}/push/abc123")
    contact = make_contact(properties={"first_name": "Ada", "push_subscription": subscription})
    service.answer(201, b"", headers={"Location": f"{service.url}/m/1"})

    result = run(
        WebPush,
        {
            "title": "Hi {{ contact.first_name }}",
            "body": "Your cart misses you",
            "url": "https://shop.example/cart",
        },
        push_conn(service, private_key),
        contact=contact,
    )

    request = service.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/push/abc123")
    headers = request["headers"]
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["ttl"] == "86400"
    scheme, _, params = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.split("=", 1) for part in params.split(","))
    public = keys.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert fields["k"] == b64urlencode(public)
    claims = json.loads(base64.urlsafe_b64decode(fields["t"].split(".")[1] + "=="))
    assert claims["aud"] == service.url
    assert claims["sub"] == "mailto:ops@acme.example"
    # Only the subscriber's keys can read the payload (RFC 8291).
    plain = http_ece.decrypt(
        request["body"], private_key=receiver, auth_secret=auth, version="aes128gcm"
    )
    assert json.loads(plain) == {
        "title": "Hi Ada",
        "body": "Your cart misses you",
        "url": "https://shop.example/cart",
    }
    assert result.output["status"] == 201


def test_push_to_a_gone_subscription_fails_permanently(service, vapid):
    _keys, private_key = vapid
    subscription, _receiver, _auth = browser_subscription(f"{service.url}/push/gone")
    contact = make_contact(properties={"push_subscription": subscription})
    service.answer(410, b"")
    with pytest.raises(PermanentNodeError, match="gone"):
        run(WebPush, {"title": "x"}, push_conn(service, private_key), contact=contact)


def test_push_endpoint_from_contact_data_goes_through_the_guard(settings, service, vapid):
    settings.OUTBOUND_ALLOWLIST = []
    _keys, private_key = vapid
    subscription, _receiver, _auth = browser_subscription(f"{service.url}/push/x")
    contact = make_contact(properties={"push_subscription": subscription})
    with pytest.raises(OutboundRefused):
        run(WebPush, {"title": "x"}, push_conn(service, private_key), contact=contact)
    assert service.requests == []


def test_push_without_a_subscription_is_skipped(service, vapid):
    result = run(WebPush, {"title": "x"}, push_conn(service, vapid[1]))
    assert result.output["skipped"] is True
    assert service.requests == []
