"""A connection's credentials go only to the sites it is for (issue 16, point 8).

Invariant: someone who may build and publish workflows, but not see or
manage connections, cannot make Cairn send a stored connection's secret (or
a signature made with it) to a server of their choosing. A webhook step
whose URL is fixed and on another site is a validation issue on its
`config.url` (publish refused, through the API and the admin alike); a URL
that only a template puts elsewhere is refused when the step runs, before
anything is sent. A site is an origin: scheme, host and port. Here the
connection's service and the attacker's are two servers on 127.0.0.1 on
different ports: two sites.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import ERROR, get_messages
from django.urls import reverse

from automation.engine import advance_run
from automation.models import Run, RunStatus, Step
from builder.models import Role, Workflow, WorkflowStatus
from builder.validation import validate_graph
from integrations.http import api
from integrations.models import Connection
from integrations.standard_webhooks import new_secret
from tests.automation.workflows import chain, graph, node, published, send, workspace

pytestmark = pytest.mark.django_db

TOKEN = "tok_live_only_for_the_crm_0123456789"


def crm(site: str, *, auth=None, secrets=None, hosts=None, name="CRM") -> Connection:
    made = Connection(workspace=workspace(), provider="http", name=name)
    made.settings = {**(auth or {"auth": "bearer"})}
    if hosts is not False:
        made.settings["hosts"] = hosts or [site]
    made.set_secrets(secrets or {"token": TOKEN})
    made.save()
    return made


def hook_graph(url: str, connection: Connection) -> dict:
    start = node("start", "trigger.event", event="order_placed")
    hook = node("hook", "action.webhook", url=url, connection=str(connection.pk), body={"n": 1})
    return graph([start, hook], chain(start, hook))


def host_issues(document: dict) -> list[dict]:
    return [
        issue.as_dict()
        for issue in validate_graph(document, workspace_id=workspace().pk)
        if issue.code == "connection_host"
    ]


def never_received(server, secret: str) -> None:
    """Not one byte of the secret reached `server` (headers, path or body)."""
    for request in server.requests:
        seen = repr(request["headers"]).encode() + request["path"].encode() + request["body"]
        assert secret.encode() not in seen


# ---------------------------------------------------------------- validation


def test_a_fixed_url_on_another_site_is_a_validation_issue_on_the_url(service, other_service):
    connection = crm(service.url)

    issues = host_issues(hook_graph(f"{other_service.url}/steal", connection))

    assert issues == [
        {
            "message": f"This connection may only be used with {service.url}.",
            "code": "connection_host",
            "node": "hook",
            "edge": None,
            "field": "config.url",
            "severity": "error",
        }
    ]


@pytest.mark.parametrize(
    "url",
    [
        "{site}/orders",  # any path on the site
        "{site}/orders?id={{{{ event.data.n }}}}",  # templates after the host are fine
        "{{{{ event.data.callback }}}}",  # only the run can tell: checked then
        "{site_host}{{{{ event.data.port }}}}/x",  # a templated port: the same
    ],
)
def test_urls_on_the_site_or_with_a_templated_host_pass_validation(service, url):
    connection = crm(service.url)
    filled = url.format(site=service.url, site_host=service.url.rsplit(":", 1)[0] + ":")
    assert host_issues(hook_graph(filled, connection)) == []


@pytest.mark.parametrize(
    "other",
    [
        "https://127.0.0.1:{port}/x",  # another scheme
        "http://127.0.0.1:{other}/x",  # another port
        "http://localhost:{port}/x",  # another host name, even for the same machine
        "http://127.0.0.1:{port}@evil.example/x",  # the host is evil.example
    ],
)
def test_another_scheme_port_or_host_is_another_site(service, other):
    connection = crm(service.url)
    url = other.format(port=service.port, other=service.port + 1)
    [issue] = host_issues(hook_graph(url, connection))
    assert issue["node"] == "hook"
    assert issue["field"] == "config.url"


def test_a_connection_without_hosts_may_be_sent_nowhere(service):
    connection = crm(service.url, hosts=False)  # made before hosts existed
    [issue] = host_issues(hook_graph(f"{service.url}/x", connection))
    assert "does not say which sites" in issue["message"]


def test_a_provider_connection_is_for_its_base_url_only(service, other_service):
    """Provider clients build URLs from the base URL; the guarded client checks it anyway."""
    slack = {
        "id": "7",
        "provider": "slack",
        "settings": {"base_url": service.url},
        "secrets": {"bot_token": TOKEN},
    }
    assert api.call(slack, "POST", f"{service.url}/chat.postMessage", json_body={}).status == 200
    with pytest.raises(Exception, match="may only be used with"):
        api.call(
            slack,
            "POST",
            f"{other_service.url}/chat.postMessage",
            json_body={},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert other_service.requests == []


# ---------------------------------------------------------------- publish refused


def test_the_api_refuses_to_publish_naming_the_node_and_field(
    client_a, client_for, service, other_service
):
    connection = client_a.post(
        "/api/v1/connections/",
        {
            "name": "CRM",
            "provider": "http",
            "settings": {"auth": "bearer", "hosts": [service.url]},
            "secrets": {"token": TOKEN},
        },
        format="json",
    ).json()
    publisher = client_for(Role.PUBLISHER)
    document = hook_graph(f"{other_service.url}/steal", Connection.objects.get(pk=connection["id"]))
    created = publisher.post(
        "/api/v1/workflows/", {"name": "Sync", "draft": document}, format="json"
    )
    assert created.status_code == 201  # a draft saves: the canvas shows the issue
    assert [(i["node"], i["field"]) for i in created.json()["issues"]] == [("hook", "config.url")]

    refused = publisher.post(f"/api/v1/workflows/{created.json()['id']}/publish")

    assert refused.status_code == 409  # the stored draft refuses (docs/api.md)
    body = refused.json()
    assert [(i["node"], i["field"], i["code"]) for i in body["issues"]] == [
        ("hook", "config.url", "connection_host")
    ]
    assert f"may only be used with {service.url}" in body["issues"][0]["message"]
    workflow = Workflow.objects.get(pk=created.json()["id"])
    assert workflow.status == WorkflowStatus.DRAFT
    assert not workflow.versions.exists()
    assert other_service.requests == []


def test_the_admin_refuses_to_publish_and_shows_the_issue(admin_client, service, other_service):
    connection = crm(service.url)
    workflow = Workflow.objects.create(
        workspace=workspace(),
        name="Sync",
        draft=hook_graph(f"{other_service.url}/steal", connection),
    )

    page = admin_client.get(reverse("admin:builder_workflow_change", args=[workflow.pk]))
    assert f"This connection may only be used with {service.url}." in page.content.decode()

    response = admin_client.post(
        reverse("admin:builder_workflow_changelist"),
        {"action": "publish_selected", "_selected_action": [str(workflow.pk)]},
        follow=True,
    )
    [message] = list(get_messages(response.wsgi_request))
    assert message.level == ERROR
    assert f"may only be used with {service.url}" in message.message
    assert not workflow.versions.exists()


# ---------------------------------------------------------------- run time


def templated_flow(connection: Connection) -> None:
    start = node("start", "trigger.event", event="order_placed")
    hook = node(
        "hook",
        "action.webhook",
        url="{{ event.data.callback }}",
        connection=str(connection.pk),
        body={"n": "{{ event.data.n }}"},
    )
    published(graph([start, hook], chain(start, hook)))


def run_for(callback: str, email: str) -> Run:
    send("order_placed", email, data={"callback": callback, "n": 1}, event_id=email)
    run = Run.objects.get(contact__email=email)
    advance_run(run.pk)
    run.refresh_from_db()
    return run


AUTH_KINDS = [
    ({"auth": "bearer"}, {"token": TOKEN}),
    ({"auth": "basic", "username": "cairn"}, {"password": TOKEN}),
    ({"auth": "header", "header_name": "X-Crm-Key"}, {"header_value": TOKEN}),
    ({"auth": "signing"}, {"signing_secret": new_secret()}),
]


@pytest.mark.parametrize(("auth", "secrets"), AUTH_KINDS, ids=lambda v: str(v)[:20])
def test_a_templated_url_on_another_site_fails_the_step_and_sends_nothing(
    service, other_service, auth, secrets
):
    connection = crm(service.url, auth=auth, secrets=secrets)
    templated_flow(connection)

    stolen = run_for(f"{other_service.url}/steal", "mallory@example.com")

    assert stolen.status == RunStatus.FAILED
    step = Step.objects.get(run=stolen, node_id="hook")
    assert f"This connection may only be used with {service.url}." in step.error
    assert other_service.requests == []  # not even without the credentials
    secret = next(iter(secrets.values()))
    never_received(other_service, secret)
    if auth["auth"] == "signing":  # the key without its prefix, as it would be used
        never_received(other_service, secret.removeprefix("whsec_"))

    legit = run_for(f"{service.url}/orders", "ada@example.com")

    assert legit.status == RunStatus.COMPLETED
    [request] = service.requests
    assert request["path"] == "/orders"
    sent = {k for k in request["headers"] if k in ("authorization", "x-crm-key")}
    assert sent or "webhook-signature" in request["headers"]


def test_a_connection_without_hosts_is_sent_nowhere_at_run_time(service):
    connection = crm(service.url, hosts=False)
    templated_flow(connection)

    run = run_for(f"{service.url}/orders", "ada@example.com")

    assert run.status == RunStatus.FAILED
    assert "does not say which sites" in Step.objects.get(run=run, node_id="hook").error
    assert service.requests == []


# ---------------------------------------------------------------- the connection's form


def test_an_http_connection_must_say_where_it_may_be_sent(client_a, service):
    def create(settings):
        return client_a.post(
            "/api/v1/connections/",
            {"name": "CRM", "provider": "http", "settings": settings, "secrets": {"token": TOKEN}},
            format="json",
        )

    missing = create({"auth": "bearer"})
    assert missing.status_code == 400
    assert "settings" in missing.json()["errors"]
    assert "hosts" in missing.json()["errors"]["settings"][0]

    not_a_site = create({"auth": "bearer", "hosts": ["ftp://files.example.com"]})
    assert not_a_site.status_code == 400
    assert "settings.hosts.0" in not_a_site.json()["errors"]

    elsewhere = create(
        {"auth": "bearer", "hosts": [service.url], "test_url": "https://elsewhere.example/me"}
    )
    assert elsewhere.status_code == 400
    assert "settings.test_url" in elsewhere.json()["errors"]

    fine = create({"auth": "bearer", "hosts": ["api.example.com", service.url]})
    assert fine.status_code == 201, fine.json()


def test_the_admin_form_says_where_credentials_go_and_requires_hosts(admin_client):
    add = reverse("admin:integrations_connection_add")
    page = admin_client.get(add).content.decode()
    assert "sent only to the sites it is for" in page

    refused = admin_client.post(
        add,
        {
            "workspace": workspace().pk,
            "provider": "http",
            "name": "CRM",
            "settings": '{"auth": "bearer"}',
            "new_secrets": f'{{"token": "{TOKEN}"}}',
        },
    )
    assert refused.status_code == 200  # shown again with the error
    assert "hosts&#x27; is a required property" in refused.content.decode()
    assert not Connection.objects.exists()


def test_existing_connections_get_their_test_urls_site_and_no_other(service):
    """Migration 0003: a site an admin chose (the test URL) becomes the hosts."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("integrations.migrations.0003_http_connection_hosts")
    tested = crm(service.url, auth={"auth": "bearer", "test_url": f"{service.url}/me"}, hosts=False)
    untested = crm(service.url, hosts=False, name="Other")

    migration.hosts_from_test_url(apps, None)

    tested.refresh_from_db()
    untested.refresh_from_db()
    assert tested.settings["hosts"] == [service.url]
    assert "hosts" not in untested.settings
    assert host_issues(hook_graph(f"{service.url}/orders", tested)) == []
