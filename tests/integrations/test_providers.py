"""Slack, Jira, GitHub and Linear nodes against a real HTTP server standing in
for each API: the exact requests each provider documents (paths, auth
headers, JSON bodies), their answers, and their failures.
"""

from __future__ import annotations

import base64

import pytest

from automation.nodes.base import NodeError, PermanentNodeError
from automation.nodes.registry import get_node_type
from integrations.github.nodes import GitHubIssue
from integrations.jira.nodes import JiraIssue
from integrations.linear.client import ISSUE_CREATE
from integrations.linear.nodes import LinearIssue
from integrations.slack.nodes import SlackMessage
from tests.automation.node_helpers import config_errors, make_contact, make_ctx
from tests.integrations.provider_helpers import conn, run

VIP = make_contact(properties={"first_name": "Ada", "plan": "pro", "level": "L2"})


# ------------------------------------------------------------------ Slack


def slack(service):
    return conn("slack", service, secrets={"bot_token": "xoxb-test-token-123"})


def test_slack_posts_chat_post_message_with_the_bot_token(service):
    service.answer(200, {"ok": True, "channel": "C024BE91L", "ts": "1700000000.000100"})
    result = run(
        SlackMessage,
        {"channel": "#sales", "text": "{{ contact.first_name }} upgraded to {{ contact.plan }}"},
        slack(service),
    )
    request = service.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/chat.postMessage")
    assert request["headers"]["authorization"] == "Bearer xoxb-test-token-123"
    assert request["headers"]["content-type"] == "application/json; charset=utf-8"
    assert service.json() == {"channel": "#sales", "text": "Ada upgraded to pro"}
    assert result.output == {
        "channel": "C024BE91L",
        "ts": "1700000000.000100",
        "text": "Ada upgraded to pro",
        # What Slack answered, bounded and redacted (editors and up read it).
        "response": {
            "status": 200,
            "body": {"ok": True, "channel": "C024BE91L", "ts": "1700000000.000100"},
            "content_type": "application/json",
        },
    }


def test_slack_errors_in_a_200_answer(service):
    service.answer(200, {"ok": False, "error": "channel_not_found"})
    with pytest.raises(PermanentNodeError, match="channel_not_found"):
        run(SlackMessage, {"channel": "#nope", "text": "hi"}, slack(service))
    service.answer(200, {"ok": False, "error": "ratelimited"})
    with pytest.raises(NodeError) as caught:
        run(SlackMessage, {"channel": "#x", "text": "hi"}, slack(service))
    assert not isinstance(caught.value, PermanentNodeError)


def test_slack_429_carries_retry_after(service):
    service.answer(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"})
    with pytest.raises(NodeError) as caught:
        run(SlackMessage, {"channel": "#x", "text": "hi"}, slack(service))
    assert caught.value.retry_after == 30


def test_slack_preview_sends_nothing(service):
    result = run(
        SlackMessage,
        {"channel": "#x", "text": "hi {{ contact.first_name }}"},
        slack(service),
        dry_run=True,
    )
    assert service.requests == []
    assert result.output == {"dry_run": True, "would": {"channel": "#x", "text": "hi Ada"}}


def test_a_missing_or_wrong_connection_fails_permanently(service):
    ctx = make_ctx({"connection": "99", "channel": "#x", "text": "hi"})
    with pytest.raises(PermanentNodeError, match="does not exist"):
        SlackMessage().run(ctx)
    with pytest.raises(PermanentNodeError, match="not a slack connection"):
        run(SlackMessage, {"channel": "#x", "text": "hi"}, conn("github", service))
    assert service.requests == []


# ------------------------------------------------------------------ Jira


def jira(service):
    return conn(
        "jira",
        service,
        settings={"email": "bot@acme.example", "project_key": "OPS"},
        secrets={"api_token": "jira-token-abc"},
    )


ESCALATION = {
    "level": "{{ contact.properties.level }}",
    "assignees": {"L1": "u1", "L2": "u2", "L3": "u3"},
}


def test_jira_creates_an_issue_assigned_by_level(service):
    service.answer(
        201, {"id": "10000", "key": "OPS-24", "self": f"{service.url}/rest/api/3/issue/10000"}
    )
    result = run(
        JiraIssue,
        {
            "title": "Help {{ contact.first_name }}",
            "description": "Plan: {{ contact.plan }}\nSoon",
            "labels": ["onboarding"],
            **ESCALATION,
        },
        jira(service),
        contact=VIP,
    )
    request = service.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/rest/api/3/issue")
    expected = base64.b64encode(b"bot@acme.example:jira-token-abc").decode()
    assert request["headers"]["authorization"] == f"Basic {expected}"
    assert service.json() == {
        "fields": {
            "project": {"key": "OPS"},
            "summary": "Help Ada",
            "issuetype": {"name": "Task"},
            "description": {
                "type": "doc",
                "version": 1,
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "Plan: pro"}]},
                    {"type": "paragraph", "content": [{"type": "text", "text": "Soon"}]},
                ],
            },
            "assignee": {"accountId": "u2"},
            "labels": ["onboarding"],
        }
    }
    assert {k: v for k, v in result.output.items() if k != "response"} == {
        "id": "10000",
        "key": "OPS-24",
        "url": f"{service.url}/browse/OPS-24",
        "assignee": "u2",
        "level": "L2",
    }
    assert result.output["response"]["status"] == 201
    assert result.output["response"]["body"]["key"] == "OPS-24"


def test_jira_400_fails_at_once_with_the_answer_kept(service):
    service.answer(400, {"errorMessages": [], "errors": {"project": "project is required"}})
    with pytest.raises(PermanentNodeError, match="400") as caught:
        run(JiraIssue, {"title": "x"}, jira(service))
    assert caught.value.output["response"]["body"]["errors"] == {"project": "project is required"}


# ------------------------------------------------------------------ GitHub


def github(service):
    return conn(
        "github",
        service,
        settings={"owner": "acme", "repo": "app"},
        secrets={"token": "ghp_test_token"},
    )


def test_github_opens_an_issue(service):
    service.answer(201, {"number": 1347, "html_url": "https://github.com/acme/app/issues/1347"})
    result = run(
        GitHubIssue,
        {
            "title": "Bug from {{ contact.email }}",
            "description": "Plan {{ contact.plan }}",
            "assignee": "octocat",
            "labels": ["bug"],
        },
        github(service),
    )
    request = service.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/repos/acme/app/issues")
    assert request["headers"]["authorization"] == "Bearer ghp_test_token"
    assert request["headers"]["accept"] == "application/vnd.github+json"
    assert request["headers"]["x-github-api-version"] == "2022-11-28"
    assert service.json() == {
        "title": "Bug from ada@example.com",
        "body": "Plan pro",
        "assignees": ["octocat"],
        "labels": ["bug"],
    }
    assert result.output["number"] == 1347
    assert result.output["url"] == "https://github.com/acme/app/issues/1347"


def test_github_500_is_retried(service):
    service.answer(502, b"bad gateway")
    with pytest.raises(NodeError) as caught:
        run(GitHubIssue, {"title": "x"}, github(service))
    assert not isinstance(caught.value, PermanentNodeError)


# ------------------------------------------------------------------ Linear


def linear(service):
    return conn(
        "linear", service, settings={"team_id": "team-9"}, secrets={"api_key": "lin_api_key"}
    )


def test_linear_creates_an_issue_with_escalation_priority(service):
    service.answer(
        200,
        {
            "data": {
                "issueCreate": {
                    "success": True,
                    "issue": {
                        "id": "iss-1",
                        "identifier": "ENG-42",
                        "url": "https://linear.app/acme/issue/ENG-42",
                    },
                }
            }
        },
    )
    result = run(
        LinearIssue,
        {
            "title": "Escalation: {{ contact.email }}",
            "description": "Plan {{ contact.plan }}",
            **ESCALATION,
        },
        linear(service),
        contact=VIP,
    )
    request = service.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/graphql")
    assert request["headers"]["authorization"] == "lin_api_key"
    assert service.json() == {
        "query": ISSUE_CREATE,
        "variables": {
            "input": {
                "teamId": "team-9",
                "title": "Escalation: ada@example.com",
                "description": "Plan pro",
                "assigneeId": "u2",
                "priority": 2,
            }
        },
    }
    assert result.output["identifier"] == "ENG-42"
    assert result.output["level"] == "L2"


def test_linear_graphql_errors_fail_permanently(service):
    service.answer(200, {"errors": [{"message": "Argument Validation Error"}]})
    with pytest.raises(PermanentNodeError, match="Argument Validation Error"):
        run(LinearIssue, {"title": "x"}, linear(service))


# ------------------------------------------------------------------ catalogue


PROVIDER_NODES = {
    "action.slack": "slack",
    "action.jira": "jira",
    "action.github": "github",
    "action.linear": "linear",
    "action.mixpanel": "mixpanel",
    "action.sms": "sms",
    "action.push": "webpush",
}


@pytest.mark.parametrize(("type_key", "provider"), PROVIDER_NODES.items())
def test_registered_with_a_connection_field_the_canvas_understands(type_key, provider):
    node = get_node_type(type_key)
    assert node is not None and node.has_side_effects and node.summary
    assert node.category == "action" and node.label and node.description
    field = node.config_schema["properties"]["connection"]
    assert field["x-widget"] == "connection"
    assert field["type"] == "string"
    assert field["x-provider"] == provider
    assert "connection" in node.config_schema["required"]
    # An outside call: its answer is kept for editors only.
    assert node.reaches_outside({}) and "response" in node.private_output_keys({})


@pytest.mark.django_db
def test_the_catalogue_api_lists_every_connector(client_a):
    listed = client_a.get("/api/v1/node-types/")
    assert listed.status_code == 200
    body = listed.json()
    types = {item["type"]: item for item in body.get("results", body)}
    for type_key, provider in {
        **PROVIDER_NODES,
        "action.email": "smtp",
        "action.webhook": "http",
    }.items():
        assert type_key in types, type_key
        schema = types[type_key]["config_schema"]["properties"]["connection"]
        assert schema["x-provider"] == provider


def test_config_validation_names_the_field():
    assert config_errors(SlackMessage, {"connection": "1", "channel": "#x", "text": "hi"}) == {}
    assert "text" in config_errors(
        SlackMessage, {"connection": "1", "channel": "#x", "text": "{{ x"}
    )
    bad_level = {"connection": "1", "title": "x", "assignees": {"L4": "u"}}
    assert config_errors(JiraIssue, bad_level)
