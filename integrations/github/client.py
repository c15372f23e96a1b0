"""GitHub REST API: create an issue, read the signed-in user."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..http import api

DEFAULT_BASE_URL = "https://api.github.com"


def _headers(connection: Mapping[str, Any]) -> dict[str, str]:
    token = (connection.get("secrets") or {}).get("token", "")
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }


def create_issue(
    connection: Mapping[str, Any],
    *,
    owner: str,
    repo: str,
    title: str,
    body: str,
    assignees: list[str],
    labels: list[str],
) -> dict[str, Any]:
    payload: dict[str, Any] = {"title": title, "body": body}
    if assignees:
        payload["assignees"] = assignees
    if labels:
        payload["labels"] = labels
    response = api.call(
        connection,
        "POST",
        f"{api.base_url(connection, DEFAULT_BASE_URL)}/repos/{owner}/{repo}/issues",
        headers=_headers(connection),
        json_body=payload,
        what="GitHub create issue",
    )
    answer = response.body if isinstance(response.body, dict) else {}
    return {
        "number": answer.get("number"),
        "url": answer.get("html_url", ""),
        "response": response.captured(),
    }


def test_connection(connection: Mapping[str, Any]) -> str:
    response = api.call(
        connection,
        "GET",
        f"{api.base_url(connection, DEFAULT_BASE_URL)}/user",
        headers=_headers(connection),
        what="GitHub user",
    )
    answer = response.body if isinstance(response.body, dict) else {}
    return f"signed in as {answer.get('login', 'a GitHub user')}"
