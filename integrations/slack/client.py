"""Slack Web API: chat.postMessage and auth.test with a bot token.

Slack answers 200 with {"ok": false, "error": "..."} for most failures: the
errors a retry may fix are retried, the rest fail the step at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automation.nodes.base import NodeError, PermanentNodeError

from ..http import api
from ..http import client as http

DEFAULT_BASE_URL = "https://slack.com/api"
TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


def _post(
    connection: Mapping[str, Any], method: str, body: Mapping[str, Any]
) -> tuple[dict, http.Response]:
    token = (connection.get("secrets") or {}).get("bot_token", "")
    response = api.call(
        connection,
        "POST",
        f"{api.base_url(connection, DEFAULT_BASE_URL)}/{method}",
        headers={"Authorization": f"Bearer {token}"},
        json_body=dict(body),
        what=f"Slack {method}",
    )
    answer = response.body if isinstance(response.body, dict) else {}
    if not answer.get("ok"):
        error = str(answer.get("error") or "no 'ok' in the answer")
        kept = {"response": response.captured()}
        if error in TRANSIENT_ERRORS:
            raise NodeError(f"Slack {method}: {error}", output=kept)
        raise PermanentNodeError(f"Slack {method}: {error}", output=kept)
    return answer, response


def post_message(connection: Mapping[str, Any], channel: str, text: str) -> dict[str, Any]:
    answer, response = _post(connection, "chat.postMessage", {"channel": channel, "text": text})
    return {
        "channel": answer.get("channel", channel),
        "ts": answer.get("ts", ""),
        "response": response.captured(),
    }


def test_connection(connection: Mapping[str, Any]) -> str:
    answer, _response = _post(connection, "auth.test", {})
    return f"signed in to {answer.get('team', 'Slack')} as {answer.get('user', 'the bot')}"
