"""A Twilio-compatible SMS API: POST /2010-04-01/Accounts/{sid}/Messages.json (form)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ..http import api

DEFAULT_BASE_URL = "https://api.twilio.com"


def _account(connection: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    sid = (connection.get("settings") or {}).get("account_sid", "")
    token = (connection.get("secrets") or {}).get("auth_token", "")
    auth = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
    return f"{api.base_url(connection, DEFAULT_BASE_URL)}/2010-04-01/Accounts/{sid}", {
        "Authorization": auth
    }


def send_sms(connection: Mapping[str, Any], to: str, body: str) -> dict[str, Any]:
    base, headers = _account(connection)
    sender = (connection.get("settings") or {}).get("from_number", "")
    response = api.call(
        connection,
        "POST",
        f"{base}/Messages.json",
        headers=headers,
        form={"To": to, "From": sender, "Body": body},
        what="SMS send",
    )
    answer = response.body if isinstance(response.body, dict) else {}
    return {
        "sid": answer.get("sid", ""),
        "status": answer.get("status", ""),
        "response": response.captured(),
    }


def test_connection(connection: Mapping[str, Any]) -> str:
    base, headers = _account(connection)
    response = api.call(connection, "GET", f"{base}.json", headers=headers, what="SMS account")
    answer = response.body if isinstance(response.body, dict) else {}
    name = answer.get("friendly_name") or answer.get("sid", "")
    return f"account {name} is {answer.get('status', 'reachable')}"
