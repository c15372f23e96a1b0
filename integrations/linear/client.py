"""Linear GraphQL API: create an issue, read the viewer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automation.nodes.base import PermanentNodeError

from ..http import api
from ..http import client as http

DEFAULT_BASE_URL = "https://api.linear.app"
ISSUE_CREATE = (
    "mutation IssueCreate($input: IssueCreateInput!) { "
    "issueCreate(input: $input) { success issue { id identifier url } } }"
)
VIEWER = "query Viewer { viewer { id name } }"


def graphql(
    connection: Mapping[str, Any], query: str, variables: dict, what: str
) -> tuple[dict, http.Response]:
    """The answer's `data` and the answer itself; GraphQL `errors` fail the step."""
    key = (connection.get("secrets") or {}).get("api_key", "")
    response = api.call(
        connection,
        "POST",
        f"{api.base_url(connection, DEFAULT_BASE_URL)}/graphql",
        # Personal API keys go as is; OAuth tokens are given with their "Bearer ".
        headers={"Authorization": key},
        json_body={"query": query, "variables": variables},
        what=what,
    )
    answer = response.body if isinstance(response.body, dict) else {}
    if answer.get("errors"):
        messages = "; ".join(str(e.get("message", e)) for e in answer["errors"])[:300]
        raise PermanentNodeError(f"{what}: {messages}", output={"response": response.captured()})
    return answer.get("data") or {}, response


def create_issue(
    connection: Mapping[str, Any],
    *,
    team_id: str,
    title: str,
    description: str,
    assignee_id: str,
    priority: int | None,
) -> dict[str, Any]:
    issue: dict[str, Any] = {"teamId": team_id, "title": title}
    if description:
        issue["description"] = description
    if assignee_id:
        issue["assigneeId"] = assignee_id
    if priority is not None:
        issue["priority"] = priority
    data, response = graphql(connection, ISSUE_CREATE, {"input": issue}, "Linear issueCreate")
    created = (data.get("issueCreate") or {}).get("issue") or {}
    return {
        "id": created.get("id", ""),
        "identifier": created.get("identifier", ""),
        "url": created.get("url", ""),
        "response": response.captured(),
    }


def test_connection(connection: Mapping[str, Any]) -> str:
    data, _response = graphql(connection, VIEWER, {}, "Linear viewer")
    viewer = data.get("viewer") or {}
    return f"signed in as {viewer.get('name') or viewer.get('id') or 'a Linear user'}"
