"""Published workflows with connector nodes on the real Celery worker.

Invariants: the worker resolves a node's connection (decrypted in the
worker, never stored in a step) and makes the documented request; a welcome
email goes out through the workspace's SMTP connection, and loading its
pixel and clicking its link move the run that waits for the click, with no
test code advancing it.
"""

from __future__ import annotations

import json
import re
from html import unescape as html_unescape
from urllib.parse import urlsplit

import pytest

from automation.models import InboxItem, Run, RunStatus, Step
from integrations.models import Connection
from tests.automation.workflows import chain, edge, graph, node, path_of, published, send, workspace
from tests.conftest import wait_until
from tests.integrations.mailbox import Mailbox, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

TOKEN = "xoxb-worker-token-000111222"


def connection(provider, settings, secrets, name="c"):
    made = Connection(workspace=workspace(), provider=provider, name=name, settings=settings)
    made.set_secrets(secrets)
    made.save()
    return made


def finished(run_filter):
    return wait_until(
        lambda: Run.objects.filter(**run_filter)
        .exclude(status__in=[RunStatus.RUNNING, RunStatus.WAITING])
        .first(),
        timeout=30,
        what=f"a run {run_filter} finishes",
    )


def test_a_slack_message_from_a_published_workflow(service, celery_worker):
    slack = connection("slack", {"base_url": service.url}, {"bot_token": TOKEN}, name="Slack")
    service.answer(200, {"ok": True, "channel": "C1", "ts": "1.2"})
    start = node("start", "trigger.event", event="upgraded")
    notify = node(
        "notify",
        "action.slack",
        connection=str(slack.pk),
        channel="#sales",
        text="{{ contact.email }} upgraded",
    )
    published(graph([start, notify], chain(start, notify)))

    send("upgraded", "ada@example.com")

    run = finished({"contact__email": "ada@example.com"})
    assert run.status == RunStatus.COMPLETED, run.error
    [request] = service.requests
    assert request["path"] == "/chat.postMessage"
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request["body"]) == {"channel": "#sales", "text": "ada@example.com upgraded"}
    stored = json.dumps(list(Step.objects.filter(run=run).values()), default=str)
    assert TOKEN not in stored
    # The worker decrypted it to make the call, and logged the call without it.
    worker_log = celery_worker.log_path.read_text()
    assert "/chat.postMessage answered 200" in worker_log
    assert TOKEN not in worker_log


def test_the_welcome_series_on_the_worker_moves_on_a_click(tmp_path):
    """The mail app's requests (pixel, click) reach a real uvicorn web process
    over HTTP, as in production; the worker moves the run, no test code does."""
    import httpx
    from aiosmtpd.controller import Controller

    from tests.config.servers import uvicorn

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        sender = connection(
            "smtp",
            {
                "host": "127.0.0.1",
                "port": controller.port,
                "security": "none",
                "from_email": "Acme <hello@acme.example>",
            },
            {},
            name="Sender",
        )
        start = node("start", "trigger.event", event="signup")
        welcome = node(
            "welcome",
            "action.email",
            connection=str(sender.pk),
            subject="Welcome",
            body="Start: https://shop.example/start\n",
        )
        clicked = node(
            "clicked", "wait.event", event="email_clicked", timeout={"amount": 3, "unit": "days"}
        )
        engaged = node("engaged", "action.tag", add=["engaged"])
        tips = node(
            "tips",
            "action.email",
            connection=str(sender.pk),
            subject="Three tips to get going",
            body="Tip one: https://shop.example/tips\n",
        )
        cold = node("cold", "action.tag", add=["cold"])
        published(
            graph(
                [start, welcome, clicked, engaged, tips, cold],
                [
                    edge("start", "welcome"),
                    edge("welcome", "clicked"),
                    edge("clicked", "engaged", "received"),
                    edge("engaged", "tips"),
                    edge("clicked", "cold", "timeout"),
                ],
            )
        )

        send("signup", "ada@example.com")

        wait_until(lambda: mailbox.messages, what="the welcome email arrives")
        run = wait_until(
            lambda: Run.objects.filter(status=RunStatus.WAITING, current_node="clicked").first(),
            what="the run waits for the click",
        )
        html = mailbox.messages[0]["message"].get_body(preferencelist=("html",)).get_content()
        [pixel] = re.findall(r'<img src="([^"]+/hooks/email/open/[^"]+)"', html)
        [link] = re.findall(r'<a href="([^"]+/hooks/email/click/[^"]+)"', html)
        with uvicorn(tmp_path) as web, httpx.Client(base_url=web, timeout=10) as mail_app:
            opened = mail_app.get(urlsplit(html_unescape(pixel)).path)
            assert (opened.status_code, opened.headers["content-type"]) == (200, "image/gif")
            clicked = mail_app.get(urlsplit(html_unescape(link)).path)
            assert clicked.status_code == 302
            assert clicked.headers["location"] == "https://shop.example/start"
            done = finished({"pk": run.pk})

        assert done.status == RunStatus.COMPLETED
        assert path_of(done) == ["start", "welcome", "clicked", "engaged", "tips"]
        assert done.contact.engagement["opens"] == 1
        # The series goes on: the second email of it, after the click.
        assert [m["message"]["subject"] for m in mailbox.messages] == [
            "Welcome",
            "Three tips to get going",
        ]
    finally:
        controller.stop()


def test_a_preview_of_connector_nodes_calls_no_service(service, celery_worker):
    """Invariant: preview runs the draft with the dry-run policy; no provider is called."""
    from builder.models import Role, Workflow
    from tests.builder.conftest import key_client

    slack = connection("slack", {"base_url": service.url}, {"bot_token": TOKEN}, name="Slack")
    start = node("start", "trigger.event", event="upgraded")
    notify = node(
        "notify",
        "action.slack",
        connection=str(slack.pk),
        channel="#sales",
        text="{{ contact.email }}",
    )
    workflow = Workflow.objects.create(
        workspace=workspace(), name="Draft", draft=graph([start, notify], chain(start, notify))
    )
    api = key_client(workspace(), Role.EDITOR)

    response = api.post(
        f"/api/v1/workflows/{workflow.pk}/preview",
        {"contact": {"email": "ada@example.com"}},
        format="json",
    )

    assert response.status_code == 201, response.data
    run = finished({"pk": response.data["id"]})
    assert run.status == RunStatus.COMPLETED, run.error
    would = Step.objects.get(run=run, node_id="notify").output["would"]
    assert would == {"channel": "#sales", "text": "ada@example.com"}
    assert service.requests == []


def test_notify_and_task_reach_slack_jira_github_and_linear_through_their_connections(
    service,
):
    """The core nodes' channels: `action.notify` posts to a Slack connection and
    `action.task` files the task in the tracker its `system` names, with the
    same requests as the connector nodes; the inbox options still land in Cairn.
    """
    base = {"base_url": service.url}
    slack = connection("slack", base, {"bot_token": TOKEN}, name="Slack")
    jira = connection(
        "jira", {**base, "email": "bot@acme.example"}, {"api_token": "jira-t"}, name="Jira"
    )
    github = connection("github", base, {"token": "ghp_t"}, name="GitHub")
    linear = connection("linear", base, {"api_key": "lin_k"}, name="Linear")
    service.answer(200, {"ok": True, "channel": "C1", "ts": "1.2"})
    service.answer(201, {"id": "10000", "key": "CS-3"})
    service.answer(201, {"number": 41, "html_url": "https://github.example/acme/app/issues/41"})
    issue = {"id": "i-1", "identifier": "ENG-9", "url": "https://linear.example/ENG-9"}
    service.answer(200, {"data": {"issueCreate": {"success": True, "issue": issue}}})
    task = {"title": "Call {{ contact.email }}", "assignee": "u-7"}
    nodes = [
        node("start", "trigger.event", event="churn_risk"),
        node(
            "slack",
            "action.notify",
            channel=str(slack.pk),
            slack_channel="#success",
            title="Churn risk",
            message="{{ contact.email }} looks at the exit",
        ),
        node("jira", "action.task", system="jira", connection=str(jira.pk), project="CS", **task),
        node(
            "github",
            "action.task",
            system="github",
            connection=str(github.pk),
            project="acme/app",
            **task,
        ),
        node(
            "linear",
            "action.task",
            system="linear",
            connection=str(linear.pk),
            project="T-1",
            **task,
        ),
        node("inbox", "action.task", **task),
        node("note", "action.notify", message="Done for {{ contact.email }}"),
    ]
    published(graph(nodes, chain(*nodes)))

    send("churn_risk", "ada@example.com")

    run = finished({"contact__email": "ada@example.com"})
    assert run.status == RunStatus.COMPLETED, run.error
    paths = [request["path"] for request in service.requests]
    assert paths == ["/chat.postMessage", "/rest/api/3/issue", "/repos/acme/app/issues", "/graphql"]
    assert service.json(0) == {
        "channel": "#success",
        "text": "*Churn risk*\nada@example.com looks at the exit",
    }
    fields = service.json(1)["fields"]
    assert (fields["project"], fields["summary"], fields["assignee"]) == (
        {"key": "CS"},
        "Call ada@example.com",
        {"accountId": "u-7"},
    )
    assert service.json(2)["assignees"] == ["u-7"]
    assert service.json(3)["variables"]["input"]["teamId"] == "T-1"
    outputs = {step.node_id: step.output for step in Step.objects.filter(run=run)}
    assert outputs["jira"]["key"] == "CS-3" and outputs["jira"]["system"] == "jira"
    assert outputs["github"]["number"] == 41
    assert outputs["linear"]["identifier"] == "ENG-9"
    inbox = {(item.kind, item.title) for item in InboxItem.objects.filter(run=run)}
    assert inbox == {("task", "Call ada@example.com"), ("notification", "Done for ada@example.com")}


def test_a_slack_notify_refused_by_slack_fails_the_run_visibly(service):
    slack = connection("slack", {"base_url": service.url}, {"bot_token": TOKEN})
    service.answer(200, {"ok": False, "error": "channel_not_found"})
    start = node("start", "trigger.event", event="upgraded")
    notify = node(
        "notify", "action.notify", channel=str(slack.pk), slack_channel="#gone", message="hi"
    )
    published(graph([start, notify], chain(start, notify)))

    send("upgraded", "bo@example.com")

    run = finished({"contact__email": "bo@example.com"})
    assert run.status == RunStatus.FAILED
    assert "channel_not_found" in run.error
    assert len(service.requests) == 1  # a permanent refusal is not retried
    assert not InboxItem.objects.filter(run=run).exists()


def test_a_secret_is_nowhere_a_person_or_a_log_can_read(service, celery_worker, caplog, client):
    """Invariant: the bytes of a connection's secrets appear in no API answer
    (connections list and detail, test verdict, runs list, run with its steps,
    dead letters), no admin page (connections list and change page, the Run and
    Step pages of a run that used them), no stored step, and no log: the test
    process's (caplog) nor the real worker's that made the calls. A careless
    service echoes the credentials back, on a failure and on success."""
    import logging

    from builder.models import Role
    from tests.builder.conftest import key_client
    from tests.builder.factories import UserFactory

    caplog.set_level(logging.DEBUG)
    bot_token, api_key = "xoxb-never-shown-5e5e5e", "hdr-never-shown-7a7a7a"
    secrets = (bot_token, api_key)
    admin_api = key_client(workspace(), Role.ADMIN)
    slack = admin_api.post(
        "/api/v1/connections/",
        {
            "name": "Slack",
            "provider": "slack",
            "settings": {"base_url": service.url},
            "secrets": {"bot_token": bot_token},
        },
        format="json",
    ).json()
    crm = admin_api.post(
        "/api/v1/connections/",
        {
            "name": "CRM",
            "provider": "http",
            "settings": {
                "auth": "header",
                "header_name": "X-Crm-Key",
                "hosts": [service.url],
            },
            "secrets": {"header_value": api_key},
        },
        format="json",
    ).json()
    # Each service echoes what it was sent (and so could know).
    slack_echo = {"you_sent": f"Bearer {bot_token}", "note": f"token={bot_token}"}
    service.answer(500, slack_echo)  # Slack fails once
    service.answer(200, {"ok": True, "channel": "C1", "ts": "1.2", **slack_echo})
    service.answer(200, {"key": api_key, "note": f"X-Crm-Key: {api_key}"})  # the CRM
    start = node("start", "trigger.event", event="upgraded")
    post = node("post", "action.slack", connection=slack["id"], channel="#sales", text="hi")
    hook = node("hook", "action.webhook", url=f"{service.url}/crm", connection=crm["id"])
    workflow = published(graph([start, post, hook], chain(start, post, hook)))

    send("upgraded", "ada@example.com")

    run = finished({"contact__email": "ada@example.com"})
    assert run.status == RunStatus.COMPLETED, run.error
    assert [r["path"] for r in service.requests] == ["/chat.postMessage"] * 2 + ["/crm"]
    assert service.requests[0]["headers"]["authorization"] == f"Bearer {bot_token}"
    assert service.requests[2]["headers"]["x-crm-key"] == api_key
    service.answer(200, {"ok": True, "team": "Acme", "user": "bot", **slack_echo})
    verdict = admin_api.post(f"/api/v1/connections/{slack['id']}/test")
    assert verdict.json()["ok"] is True

    steps = list(Step.objects.filter(run=run))
    run.refresh_from_db()
    readable = {
        "stored steps": json.dumps([list(Step.objects.filter(run=run).values())], default=str),
        "run": json.dumps([run.outputs, run.error]),
        "test verdict": verdict.content.decode(),
    }
    for role in (Role.ADMIN, Role.VIEWER):
        api = key_client(workspace(), role)
        for url in (
            "/api/v1/connections/",
            f"/api/v1/connections/{slack['id']}/",
            f"/api/v1/connections/{crm['id']}/",
            f"/api/v1/workflows/{workflow.pk}/runs/",
            f"/api/v1/runs/{run.pk}/",
            "/api/v1/dead-letters",
        ):
            answer = api.get(url)
            assert answer.status_code == 200, (url, answer.status_code)
            readable[f"{role} GET {url}"] = answer.content.decode()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in (
        "/admin/integrations/connection/",
        f"/admin/integrations/connection/{slack['id']}/change/",
        f"/admin/integrations/connection/{crm['id']}/change/",
        "/admin/automation/run/",
        f"/admin/automation/run/{run.pk}/change/",
        "/admin/automation/step/",
        *(f"/admin/automation/step/{step.pk}/change/" for step in steps),
    ):
        page = client.get(url)
        assert page.status_code == 200, (url, page.status_code)
        readable[f"admin {url}"] = page.content.decode()
    readable["caplog"] = caplog.text
    readable["worker log"] = celery_worker.log_path.read_text()

    for where, text in readable.items():
        for secret in secrets:
            assert secret not in text, f"{where} shows a secret"
    # The searches looked at real content: the calls and their answers are there.
    assert "/chat.postMessage answered 500" in readable["worker log"]
    assert "[redacted]" in readable[f"admin /admin/automation/step/{steps[1].pk}/change/"]
    assert "••••" in readable[f"{Role.VIEWER} GET /api/v1/connections/"]
