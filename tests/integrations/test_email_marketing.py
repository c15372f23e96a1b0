"""Email as marketers expect, against a real SMTP server (aiosmtpd on 127.0.0.1).

A published welcome email goes out through the workspace's SMTP connection
with HTML and text parts, a footer unsubscribe link and RFC 8058 one-click
List-Unsubscribe headers; loading its pixel and clicking its link come back
as `email_opened` / `email_clicked` events that move a run waiting for them;
an unsubscribed contact is never emailed again and the step says so.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from automation.engine import Outcome, advance_run
from automation.models import Contact, Event, Run, RunStatus, Step
from integrations import services
from integrations.models import Connection
from tests.automation.workflows import edge, graph, node, path_of, published, send, workspace
from tests.integrations.mailbox import Mailbox, free_port

pytestmark = pytest.mark.django_db

PASSWORD = "smtp-pass-never-shown-123"


@pytest.fixture(scope="module")
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp):
    with smtp.lock:
        smtp.messages.clear()
    return smtp


@pytest.fixture
def sender(mailbox):
    made = Connection(
        workspace=workspace(),
        provider="smtp",
        name="Acme sender",
        settings={
            "host": "127.0.0.1",
            "port": mailbox.port,
            "security": "none",
            "from_email": "Acme <hello@acme.example>",
            "reply_to": "support@acme.example",
        },
    )
    made.set_secrets({"password": PASSWORD})
    made.save()
    return made


def welcome_flow(sender: Connection):
    start = node("start", "trigger.event", event="signup")
    welcome = node(
        "welcome",
        "action.email",
        connection=str(sender.pk),
        subject="Welcome, {{ contact.first_name }}",
        body="Hi {{ contact.first_name }},\n\nStart here: https://shop.example/start?ref=mail\n",
    )
    clicked = node(
        "clicked", "wait.event", event="email_clicked", timeout={"amount": 3, "unit": "days"}
    )
    engaged = node("engaged", "action.tag", add=["engaged"])
    cold = node("cold", "action.tag", add=["cold"])
    edges = [
        edge("start", "welcome"),
        edge("welcome", "clicked"),
        edge("clicked", "engaged", "received"),
        edge("clicked", "cold", "timeout"),
    ]
    published(graph([start, welcome, clicked, engaged, cold], edges))


def signup(email="ada@example.com") -> Run:
    send("signup", email, properties={"first_name": "Ada"})
    return Run.objects.get(contact__email=email)


def path_of_url(url: str) -> str:
    parts = urlsplit(url)
    return parts.path


def test_the_welcome_email_and_its_tracking_move_a_waiting_run(mailbox, sender):
    welcome_flow(sender)
    run = signup()

    assert advance_run(run.pk) is Outcome.WAITING  # sent, now waiting for a click

    [delivered] = mailbox.messages
    message = delivered["message"]
    assert delivered["to"] == ["ada@example.com"]
    assert message["from"] == "Acme <hello@acme.example>"
    assert message["reply-to"] == "support@acme.example"
    assert message["subject"] == "Welcome, Ada"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert text.startswith("Hi Ada,")
    assert "https://shop.example/start?ref=mail" in text
    # RFC 8058: an https(s) URI in List-Unsubscribe and the one-click POST marker.
    unsubscribe = re.fullmatch(r"<(http[^>]+)>", message["list-unsubscribe"].strip()).group(1)
    assert message["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    assert f"Unsubscribe: {unsubscribe}" in text
    assert unsubscribe in html
    # The link in the HTML part goes through the click redirect; the pixel is there.
    [tracked] = re.findall(r'<a href="([^"]+/hooks/email/click/[^"]+)"', html)
    [pixel] = re.findall(r'<img src="([^"]+/hooks/email/open/[^"]+)"', html)
    assert "shop.example" not in tracked

    browser = Client()
    opened = browser.get(path_of_url(pixel))
    assert opened.status_code == 200
    assert opened["Content-Type"] == "image/gif"
    assert Event.objects.filter(type="email_opened").count() == 1
    browser.get(path_of_url(pixel))  # a second open of the same message counts once
    assert Event.objects.filter(type="email_opened").count() == 1
    assert Contact.objects.get(email="ada@example.com").engagement["opens"] == 1

    clicked = browser.get(path_of_url(tracked))
    assert clicked.status_code == 302
    assert clicked["Location"] == "https://shop.example/start?ref=mail"
    event = Event.objects.get(type="email_clicked")
    assert event.data["url"] == "https://shop.example/start?ref=mail"
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING  # the click woke it
    assert advance_run(run.pk) is Outcome.COMPLETED
    assert path_of(run) == ["start", "welcome", "clicked", "engaged"]
    assert PASSWORD not in str(list(Step.objects.values()))


def test_one_click_unsubscribe_and_never_emailed_again(mailbox, sender):
    welcome_flow(sender)
    run = signup()
    advance_run(run.pk)
    message = mailbox.messages[0]["message"]
    unsubscribe = re.fullmatch(r"<(http[^>]+)>", message["list-unsubscribe"].strip()).group(1)
    browser = Client()

    page = browser.get(path_of_url(unsubscribe))  # a link scanner or a preview
    assert page.status_code == 200
    assert b'<form method="post"' in page.content
    assert not Contact.objects.get(email="ada@example.com").properties.get("unsubscribed")

    done = browser.post(
        path_of_url(unsubscribe),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert done.status_code == 200
    contact = Contact.objects.get(email="ada@example.com")
    assert contact.properties["unsubscribed"] is True
    assert Event.objects.filter(type="email_unsubscribed").count() == 1

    # A later email to this contact is skipped, and the step says why.
    start = node("start", "trigger.event", event="promo")
    promo = node("promo", "action.email", subject="Sale", body="50% off")
    published(graph([start, promo], [edge("start", "promo")]), name="Promo")
    send("promo", "ada@example.com")
    promo_run = Run.objects.get(workflow__name="Promo")
    assert advance_run(promo_run.pk) is Outcome.COMPLETED
    step = Step.objects.get(run=promo_run, node_id="promo")
    assert step.output["skipped"] is True
    assert "unsubscribed" in step.output["reason"]
    assert len(mailbox.messages) == 1


def test_forged_or_altered_tracking_links_are_404(mailbox, sender):
    welcome_flow(sender)
    advance_run(signup().pk)
    html = mailbox.messages[0]["message"].get_body(preferencelist=("html",)).get_content()
    [tracked] = re.findall(r'<a href="([^"]+/hooks/email/click/[^"]+)"', html)
    browser = Client()
    altered = path_of_url(tracked)[:-3] + "abc"
    assert browser.get(altered).status_code == 404
    assert browser.get("/hooks/email/click/.eJyrVkrOz0nVL0stKs7Mz1OyUs").status_code == 404
    assert browser.post("/hooks/email/unsubscribe/forged").status_code == 404
    assert not Event.objects.filter(type="email_clicked").exists()


def test_testing_an_smtp_connection_signs_in_and_secrets_stay_hidden(mailbox, sender, settings):
    ok, detail = services.test_connection(sender)
    assert ok, detail
    settings.OUTBOUND_ALLOWLIST = []  # production default: an internal host is refused
    ok, detail = services.test_connection(sender)
    assert not ok
    assert "loopback" in detail
    assert PASSWORD not in detail


# ------------------------------------------------------------------ the workspace's sender


def test_a_step_that_picks_no_sender_sends_as_the_workspace(mailbox, sender):
    """Invariant: an email step with no connection goes through the workspace's
    sender (the SMTP connection marked as such: its server and From), not
    Cairn's global EMAIL_URL; without one marked, Cairn's default sender."""
    from django.core import mail

    from builder.models import Role
    from tests.builder.conftest import key_client

    start = node("start", "trigger.event", event="signup")
    welcome = node("welcome", "action.email", subject="Welcome", body="Hi")
    published(graph([start, welcome], [edge("start", "welcome")]))

    send("signup", "ada@example.com")  # no sender marked yet: Cairn's default
    assert advance_run(Run.objects.get(contact__email="ada@example.com").pk) is Outcome.COMPLETED
    assert mailbox.messages == []
    assert [m.from_email for m in mail.outbox] == ["Cairn <cairn@localhost>"]

    admin = key_client(workspace(), Role.ADMIN)
    marked = admin.patch(
        f"/api/v1/connections/{sender.pk}/",
        {"settings": {"workspace_default": True}},
        format="json",
    )
    assert marked.status_code == 200, marked.content
    assert marked.json()["settings"]["workspace_default"] is True
    # Another workspace's sender is never ours.
    theirs = Connection(
        workspace=workspace("other"),
        provider="smtp",
        name="Theirs",
        settings={"host": "127.0.0.1", "port": 1, "from_email": "x@other.example"},
    )
    theirs.settings["workspace_default"] = True
    theirs.save()

    send("signup", "bo@example.com")
    assert advance_run(Run.objects.get(contact__email="bo@example.com").pk) is Outcome.COMPLETED

    [delivered] = mailbox.messages
    assert delivered["to"] == ["bo@example.com"]
    assert delivered["message"]["from"] == "Acme <hello@acme.example>"
    assert delivered["message"]["reply-to"] == "support@acme.example"
    assert len(mail.outbox) == 1  # nothing more through Cairn's default


def test_one_sender_per_workspace_and_a_sender_in_use_is_kept(mailbox, sender):
    sender.settings = {**sender.settings, "workspace_default": True}
    sender.save()
    second = Connection(
        workspace=workspace(),
        provider="smtp",
        name="Newsletter sender",
        settings={**sender.settings, "from_email": "news@acme.example"},
    )
    second.save()  # marked too: it becomes the workspace's sender
    sender.refresh_from_db()
    assert "workspace_default" not in sender.settings
    assert Connection.workspace_default(workspace().pk, "smtp") == second

    start = node("start", "trigger.event", event="signup")
    welcome = node("welcome", "action.email", subject="Welcome", body="Hi")
    published(graph([start, welcome], [edge("start", "welcome")]), name="Welcome")
    assert services.workflows_using(second) == ["Welcome"]  # it may not be deleted now
    assert services.workflows_using(sender) == []


# ------------------------------------------------------------------ mail to someone else


def test_mail_to_another_address_never_unsubscribes_the_contact(mailbox, sender):
    """Invariant: when `to` names someone other than the run's contact (their
    account manager, say), that person's unsubscribe link stops mail to their
    own address (the workspace's suppression list), never to the contact; and
    their opens and clicks are not tracked as the contact's."""
    start = node("start", "trigger.event", event="signup")
    brief = node(
        "brief",
        "action.email",
        connection=str(sender.pk),
        to="{{ contact.properties.manager }}",
        subject="New signup: {{ contact.email }}",
        body="Say hello: https://crm.example/contacts/{{ contact.email }}\n",
    )
    welcome = node("welcome", "action.email", connection=str(sender.pk), subject="Hi", body="Hi")
    published(graph([start, brief, welcome], [edge("start", "brief"), edge("brief", "welcome")]))
    manager = "Max Boss <Max@acme.example>"
    send("signup", "ada@example.com", properties={"manager": manager})
    run = Run.objects.get(contact__email="ada@example.com")
    assert advance_run(run.pk) is Outcome.COMPLETED

    to_manager, to_ada = mailbox.messages
    assert to_manager["to"] == ["Max@acme.example"] and to_ada["to"] == ["ada@example.com"]
    message = to_manager["message"]
    html = message.get_body(preferencelist=("html",)).get_content()
    assert 'href="https://crm.example/contacts/ada@example.com"' in html  # not rewritten
    assert "/hooks/email/open/" not in html and "/hooks/email/click/" not in html
    unsubscribe = re.fullmatch(r"<(http[^>]+)>", message["list-unsubscribe"].strip()).group(1)
    assert message["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"

    done = Client().post(
        path_of_url(unsubscribe),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert done.status_code == 200
    ada = Contact.objects.get(email="ada@example.com")
    assert not ada.properties.get("unsubscribed")
    assert not Event.objects.filter(type="email_unsubscribed").exists()
    # The next signup's brief is not sent to the manager, who asked for none;
    # the contact still gets their welcome.
    send("signup", "bo@example.com", properties={"manager": "max@ACME.example"})
    second = Run.objects.get(contact__email="bo@example.com")
    assert advance_run(second.pk) is Outcome.COMPLETED
    step = Step.objects.get(run=second, node_id="brief")
    assert step.output["skipped"] is True
    assert "max@acme.example unsubscribed" in step.output["reason"]
    assert [m["to"] for m in mailbox.messages[2:]] == [["bo@example.com"]]
    # Ada's own mail still carries her tracking and her own unsubscribe link.
    ada_html = to_ada["message"].get_body(preferencelist=("html",)).get_content()
    assert "/hooks/email/open/" in ada_html


def test_an_escalation_email_goes_out_as_the_workspaces_sender(
    mailbox, sender, django_capture_on_commit_callbacks
):
    """Invariant: a product escalation mails its owner through the workspace's
    sender, as an email step that picks no connection does, not EMAIL_URL."""
    from django.core import mail

    from tests.products.factories import ProductFactory, escalate

    sender.settings = {**sender.settings, "workspace_default": True}
    sender.save()
    product = ProductFactory(workspace=workspace(), name="Atlas", manager_email="pm@acme.example")

    with django_capture_on_commit_callbacks(execute=True):
        escalation = escalate(product, key="sender")

    [delivered] = mailbox.messages
    assert delivered["to"] == ["pm@acme.example"]
    assert delivered["message"]["from"] == "Acme <hello@acme.example>"
    assert delivered["message"]["subject"] == "[Cairn L2] Atlas is down"
    assert mail.outbox == []  # nothing through Cairn's default sender
    escalation.refresh_from_db()
    assert "email" in escalation.history[0]["channels"]


def test_a_preview_shows_the_workspaces_sender_and_sends_nothing(mailbox, sender):
    """Invariant: a preview says who the mail would come from, the workspace's
    sender when the step picks none, and sends nothing."""
    from builder.models import Role
    from tests.builder.conftest import key_client

    sender.settings = {**sender.settings, "workspace_default": True}
    sender.save()
    start = node("start", "trigger.event", event="signup")
    welcome = node("welcome", "action.email", subject="Welcome", body="Hi")
    workflow = published(graph([start, welcome], [edge("start", "welcome")]))
    editor = key_client(workspace(), Role.EDITOR)

    response = editor.post(
        f"/api/v1/workflows/{workflow.pk}/preview",
        {"contact": {"email": "ada@example.com"}},
        format="json",
    )

    assert response.status_code == 201, response.data
    run = Run.objects.get(pk=response.data["id"])
    advance_run(run.pk)
    would = run.steps.get(node_id="welcome").output["would"]
    assert would["from"] == "Acme <hello@acme.example>"
    assert mailbox.messages == []
