"""Mixpanel Ingestion API: /import with a service account (basic auth, project_id)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from ..http import api
from ..http import client as http

DEFAULT_BASE_URL = "https://api.mixpanel.com"


def _import(
    connection: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> tuple[dict, http.Response]:
    import base64

    options = connection.get("settings") or {}
    pair = f"{options.get('username', '')}:{(connection.get('secrets') or {}).get('secret', '')}"
    query = urlencode({"strict": "1", "project_id": options.get("project_id", "")})
    response = api.call(
        connection,
        "POST",
        f"{api.base_url(connection, DEFAULT_BASE_URL)}/import?{query}",
        headers={"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()},
        json_body=list(events),
        what="Mixpanel import",
    )
    return (response.body if isinstance(response.body, dict) else {}), response


def track(connection: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    answer, response = _import(connection, [event])
    return {"imported": answer.get("num_records_imported", 0), "response": response.captured()}


def test_connection(connection: Mapping[str, Any]) -> str:
    answer, _response = _import(connection, [])
    return f"Mixpanel accepted the credentials ({answer.get('status', 'OK')})"
