import pytest
from jsonschema import Draft202012Validator

from automation.nodes import actions, flow
from automation.nodes.actions import (
    EnrollAction,
    NotifyAction,
    TagAction,
    TaskAction,
    UpdateContactAction,
)
from automation.nodes.base import ContactPatch, InboxItemSpec
from automation.nodes.flow import EndFlow
from automation.templating import TemplateRenderError
from tests.automation.node_helpers import config_errors, make_ctx

EVENT = {"id": "e1", "type": "purchase", "data": {"total": 80, "code": "SPRING"}}


def test_catalogue_entries():
    for node in [*actions.NODE_TYPES, *flow.NODE_TYPES]:
        Draft202012Validator.check_schema(node.config_schema)
        assert node.config_schema["additionalProperties"] is False
        for prop in node.config_schema["properties"].values():
            assert prop.get("title"), node.type  # the canvas labels every field
    assert {node.category for node in actions.NODE_TYPES} == {"action"}


# ---------------------------------------------------------------- update_contact


def test_update_contact_renders_templates_and_keeps_other_values():
    config = {"properties": {"last_offer": "{{ event.data.code }}", "vip": True, "tier": 2}}
    result = UpdateContactAction().run(make_ctx(config, event=EVENT))
    expected = {"last_offer": "SPRING", "vip": True, "tier": 2}
    assert result.contact_patch == ContactPatch(properties=expected)
    assert result.output == {"set": expected}


def test_update_contact_config():
    assert "properties" in config_errors(UpdateContactAction, {"properties": {}})
    errors = config_errors(UpdateContactAction, {"properties": {"x": "{{ oops"}})
    assert errors["properties.x"].startswith("line 1")


def test_a_broken_template_fails_naming_the_field():
    with pytest.raises(TemplateRenderError, match=r"^properties\.x:"):
        UpdateContactAction().run(make_ctx({"properties": {"x": "{{ ''.__class__ }}"}}))


# ---------------------------------------------------------------- tag


def test_tag_adds_and_removes():
    result = TagAction().run(make_ctx({"add": ["vip"], "remove": ["trial"]}))
    assert result.contact_patch == ContactPatch(add_tags=("vip",), remove_tags=("trial",))
    assert result.output == {"added": ["vip"], "removed": ["trial"]}


def test_tag_config_needs_at_least_one_tag():
    assert config_errors(TagAction, {"add": ["vip"]}) == {}
    assert "add" in config_errors(TagAction, {})
    assert "add" in config_errors(TagAction, {"add": [], "remove": []})
    assert "add.0" in config_errors(TagAction, {"add": [""]})


# ---------------------------------------------------------------- notify


def test_notify_posts_to_the_team_inbox():
    config = {"title": "Big order", "message": "{{ contact.email }} spent {{ event.data.total }}"}
    result = NotifyAction().run(make_ctx(config, event=EVENT))
    assert result.inbox == (
        InboxItemSpec(
            kind="notification",
            title="Big order",
            body="ada@example.com spent 80",
            channel="inbox",
        ),
    )


def test_notify_without_a_title_uses_the_first_line():
    result = NotifyAction().run(make_ctx({"message": "Hello {{ contact.first_name }}\nmore"}))
    assert result.inbox[0].title == "Hello Ada"


def test_notify_config():
    assert config_errors(NotifyAction, {"message": "hi"}) == {}
    assert "channel" in config_errors(NotifyAction, {"message": "hi", "channel": "slack"})
    assert "message" in config_errors(NotifyAction, {"message": "{% if %}"})
    assert "title" in config_errors(NotifyAction, {"message": "ok", "title": "{{ x"})
    # A Slack connection as the channel needs the Slack channel to post to.
    to_slack = {"message": "hi", "channel": "12"}
    assert "slack_channel" in config_errors(NotifyAction, to_slack)
    assert config_errors(NotifyAction, {**to_slack, "slack_channel": "#sales"}) == {}


def test_notify_reaches_outside_only_when_it_posts_to_slack():
    inbox = {"message": "hi"}
    slack = {"message": "hi", "channel": "12", "slack_channel": "#sales"}
    assert not NotifyAction.reaches_outside(inbox) and NotifyAction.connection_ids(inbox) == []
    assert NotifyAction.reaches_outside(slack) and NotifyAction.connection_ids(slack) == ["12"]


def test_notify_to_slack_in_preview_says_what_it_would_post():
    config = {"message": "Hi {{ contact.first_name }}", "channel": "12", "slack_channel": "#x"}
    result = NotifyAction().run(make_ctx(config, dry_run=True))
    assert result.output == {"dry_run": True, "would": {"channel": "#x", "text": "Hi Ada"}}
    assert result.inbox == ()


# ---------------------------------------------------------------- task


def test_task_creates_an_inbox_task():
    config = {
        "title": "Call {{ contact.first_name }}",
        "description": "Plan: {{ contact.plan }}",
        "assignee": "sam@team.example",
    }
    result = TaskAction().run(make_ctx(config))
    assert result.inbox == (
        InboxItemSpec(kind="task", title="Call Ada", body="Plan: pro", assignee="sam@team.example"),
    )
    assert result.output["system"] == "internal"


def test_task_config():
    assert config_errors(TaskAction, {"title": "Call"}) == {}
    assert "system" in config_errors(TaskAction, {"title": "Call", "system": "asana"})
    assert "description" in config_errors(TaskAction, {"title": "Call", "description": "{{"})
    # An outside tracker needs its connection; a GitHub project is owner/name.
    assert "connection" in config_errors(TaskAction, {"title": "Call", "system": "jira"})
    github = {"title": "Call", "system": "github", "connection": "3"}
    assert config_errors(TaskAction, {**github, "project": "acme/app"}) == {}
    assert "project" in config_errors(TaskAction, {**github, "project": "acme"})


def test_task_reaches_outside_only_for_an_outside_tracker():
    assert not TaskAction.reaches_outside({"title": "Call"})
    linear = {"title": "Call", "system": "linear", "connection": "4"}
    assert TaskAction.reaches_outside(linear) and TaskAction.connection_ids(linear) == ["4"]


# ---------------------------------------------------------------- enroll, end


def test_enroll_asks_the_engine_to_enrol():
    result = EnrollAction().run(make_ctx({"workflow": "wf-42"}))
    assert result.enroll_workflow == "wf-42"
    assert result.output == {"workflow": "wf-42"}
    assert "'workflow' is a required property" in config_errors(EnrollAction, {}).values()


def test_end_ends_the_run():
    assert EndFlow.handles == ()
    assert EndFlow().run(make_ctx({})).end is True


# ---------------------------------------------------------------- preview


@pytest.mark.parametrize(
    ("node", "config", "would"),
    [
        (
            UpdateContactAction,
            {"properties": {"offer": "{{ event.data.code }}"}},
            {"set": {"offer": "SPRING"}},
        ),
        (TagAction, {"add": ["vip"]}, {"added": ["vip"], "removed": []}),
        (
            NotifyAction,
            {"message": "Order {{ event.data.total }}"},
            {"channel": "inbox", "title": "Order 80", "message": "Order 80"},
        ),
        (
            TaskAction,
            {"title": "Call {{ contact.first_name }}"},
            {"system": "internal", "title": "Call Ada", "description": "", "assignee": ""},
        ),
        (EnrollAction, {"workflow": "wf-42"}, {"workflow": "wf-42"}),
    ],
)
def test_dry_run_reports_and_does_nothing(node, config, would):
    # Preview must never change a contact, post to the inbox or enrol anyone.
    result = node().run(make_ctx(config, event=EVENT, dry_run=True))
    assert result.output == {"dry_run": True, "would": would}
    assert result.contact_patch is None
    assert result.inbox == ()
    assert result.enroll_workflow is None
