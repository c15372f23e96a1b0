"""An oversized request body is refused before it is parsed, and nothing is stored."""

import json

import pytest

from automation.models import Event

pytestmark = pytest.mark.django_db


def test_a_body_over_the_limit_gets_a_413_naming_the_limit(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    body = {"type": "signup", "contact": {"email": "ada@example.com"}, "data": {"s": "x" * 5000}}
    response = client.post("/api/v1/events", json.dumps(body), content_type="application/json")
    assert response.status_code == 413
    assert response.json()["errors"]["body"] == [
        f"the request body is {len(json.dumps(body))} bytes; the limit is 2000 (REQUEST_MAX_BYTES)"
    ]
    assert Event.objects.count() == 0
