"""Jira Cloud REST API v3: create an issue, read the signed-in account."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ..http import api


def _headers(connection: Mapping[str, Any]) -> dict[str, str]:
    email = (connection.get("settings") or {}).get("email", "")
    token = (connection.get("secrets") or {}).get("api_token", "")
    pair = base64.b64encode(f"{email}:{token}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def _base(connection: Mapping[str, Any]) -> str:
    return api.base_url(connection, "")


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document (one paragraph per line)."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        for line in text.splitlines()
        if line.strip()
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def create_issue(
    connection: Mapping[str, Any],
    *,
    project: str,
    summary: str,
    description: str,
    issue_type: str,
    assignee: str,
    labels: list[str],
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "project": {"key": project},
        "summary": summary,
        "issuetype": {"name": issue_type},
    }
    if description:
        fields["description"] = adf(description)
    if assignee:
        fields["assignee"] = {"accountId": assignee}
    if labels:
        fields["labels"] = labels
    response = api.call(
        connection,
        "POST",
        f"{_base(connection)}/rest/api/3/issue",
        headers=_headers(connection),
        json_body={"fields": fields},
        what="Jira create issue",
    )
    body = response.body if isinstance(response.body, dict) else {}
    key = body.get("key", "")
    return {
        "id": body.get("id", ""),
        "key": key,
        "url": f"{_base(connection)}/browse/{key}",
        "response": response.captured(),
    }


def test_connection(connection: Mapping[str, Any]) -> str:
    response = api.call(
        connection,
        "GET",
        f"{_base(connection)}/rest/api/3/myself",
        headers=_headers(connection),
        what="Jira myself",
    )
    body = response.body if isinstance(response.body, dict) else {}
    return f"signed in as {body.get('displayName') or body.get('accountId') or 'a Jira user'}"
