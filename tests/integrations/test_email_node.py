"""action.email against a real SMTP server (aiosmtpd on 127.0.0.1)."""

import socket
import threading
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from automation.nodes.base import NodeError, PermanentNodeError
from integrations.email.nodes import EmailAction
from tests.automation.node_helpers import config_errors, make_contact, make_ctx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """Keeps every message the server accepted; refuses recipients at refuse.example."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refuse.example"):
            return "550 5.1.1 no such mailbox"
        if address.endswith("@busy.example"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append({"envelope_to": list(envelope.rcpt_tos), "message": message})
        return "250 OK"


@pytest.fixture(scope="module")
def smtp_inbox():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture
def inbox(smtp_inbox, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_inbox.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "Cairn <hello@cairn.example>"
    with smtp_inbox.lock:
        smtp_inbox.messages.clear()
    return smtp_inbox


WELCOME = {
    "subject": "Welcome, {{ contact.first_name }}",
    "body": "Hi {{ contact.first_name }}, your plan is {{ contact.plan }}.\n",
}


def send(config, **ctx_fields):
    ctx_fields.setdefault("idempotency_key", "step-101")
    return EmailAction().run(make_ctx(config, **ctx_fields))


def text_of(message):
    # SMTP carries CRLF line endings; compare the text as the reader sees it.
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def test_sends_the_rendered_email_to_the_contact(inbox):
    result = send(WELCOME)
    assert len(inbox.messages) == 1
    received = inbox.messages[0]
    message = received["message"]
    assert received["envelope_to"] == ["ada@example.com"]
    assert message["subject"] == "Welcome, Ada"
    assert text_of(message).startswith("Hi Ada, your plan is pro.\n\n--\nUnsubscribe: http")
    assert message["from"] == "Cairn <hello@cairn.example>"
    assert message["message-id"] == "<step-101@cairn>"
    assert message["x-cairn-idempotency-key"] == "step-101"
    assert result.output == {
        "to": "ada@example.com",
        "subject": "Welcome, Ada",
        "message_id": "<step-101@cairn>",
    }


def test_a_retried_step_sends_the_same_message_id(inbox):
    # The idempotency key is stable across retries, so the receiving side can
    # recognise a repeat after a crash between sending and recording the step.
    key = "run 7/step:3"
    send(WELCOME, idempotency_key=key)
    send(WELCOME, idempotency_key=key)
    ids = {received["message"]["message-id"] for received in inbox.messages}
    assert ids == {"<run-7-step-3@cairn>"}


def test_to_from_reply_to_and_html(inbox):
    config = {
        **WELCOME,
        "to": "Sales <sales+{{ contact.external_id }}@team.example>",
        "from": "Ada's Shop <shop@shop.example>",
        "reply_to": "help@shop.example",
        "html": "<p>Hi <b>{{ contact.first_name }}</b></p>",
    }
    send(config)
    received = inbox.messages[0]
    message = received["message"]
    assert received["envelope_to"] == ["sales+u-1@team.example"]
    assert message["from"] == "Ada's Shop <shop@shop.example>"
    assert message["reply-to"] == "help@shop.example"
    html = message.get_body(preferencelist=("html",)).get_content()
    assert html.startswith("<p>Hi <b>Ada</b></p>")
    assert text_of(message).startswith("Hi Ada, your plan is pro.\n")


def test_a_newline_rendered_into_the_subject_cannot_add_headers(inbox):
    contact = make_contact(properties={"first_name": "Ada\nBcc: victim@example.com"})
    send(WELCOME, contact=contact)
    message = inbox.messages[0]["message"]
    assert message["bcc"] is None
    assert message["subject"] == "Welcome, Ada Bcc: victim@example.com"


def test_contact_without_email_fails_permanently(inbox):
    with pytest.raises(PermanentNodeError, match=r"^to: the contact has no email address$"):
        send(WELCOME, contact=make_contact(email=""))
    assert inbox.messages == []


def test_invalid_rendered_address_fails_permanently(inbox):
    with pytest.raises(PermanentNodeError, match=r"^to:"):
        send({**WELCOME, "to": "{{ contact.plan }}"})
    assert inbox.messages == []


def test_recipient_refused_for_good_is_permanent(inbox):
    with pytest.raises(PermanentNodeError, match="refused"):
        send({**WELCOME, "to": "nobody@refuse.example"})


def test_recipient_refused_for_now_is_retried(inbox):
    with pytest.raises(NodeError) as caught:
        send({**WELCOME, "to": "someone@busy.example"})
    assert not isinstance(caught.value, PermanentNodeError)


def test_unreachable_server_is_a_retryable_error(inbox, settings):
    settings.EMAIL_PORT = _free_port()  # nothing listens there
    with pytest.raises(NodeError) as caught:
        send(WELCOME)
    assert not isinstance(caught.value, PermanentNodeError)


def test_preview_renders_but_sends_nothing(inbox):
    result = send(WELCOME, dry_run=True)
    assert inbox.messages == []
    assert result.output["dry_run"] is True
    would = result.output["would"]
    assert would["to"] == "ada@example.com"
    assert would["subject"] == "Welcome, Ada"
    assert would["body"].startswith("Hi Ada, your plan is pro.\n")


def test_config_validation():
    assert EmailAction.has_side_effects
    assert config_errors(EmailAction, WELCOME) == {}
    assert "(config)" in config_errors(EmailAction, {"subject": "x"})
    errors = config_errors(EmailAction, {**WELCOME, "subject": "Hi {{ contact.first_name"})
    assert errors["subject"].startswith("line 1")
    assert "html" in config_errors(EmailAction, {**WELCOME, "html": "{% for %}"})
    assert "from" in config_errors(EmailAction, {**WELCOME, "from": "not an address"})
    assert "cc" in config_errors(EmailAction, {**WELCOME, "cc": "x@y.z"}).get("(config)", "")
