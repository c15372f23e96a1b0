"""SMTP connections go where the outbound guard said they may, and only there.

Invariants: the SMTP session of a workspace's connection is opened to the
address the guard checked, never to what the host name resolves to a moment
later (a DNS-rebinding name cannot swap an allowed address for an internal
one between the check and the connect); a name resolving to loopback is
refused unless allow-listed, with nothing sent; STARTTLS still verifies the
certificate against the connection's host name (its SNI), not the address.
Real SMTP servers (aiosmtpd) on 127.0.0.1 and 127.0.0.2.
"""

from __future__ import annotations

import socket
import ssl

import pytest
from aiosmtpd.controller import Controller

from automation.nodes.base import NodeError
from integrations.email.nodes import EmailAction
from integrations.http.guard import OutboundRefused
from tests.automation.node_helpers import make_ctx
from tests.integrations.mailbox import Mailbox, free_port
from tests.integrations.test_outbound_tls import _certificate

REBINDING_NAME = "mail.rebinding.test"


def smtp_connection(host: str, port: int, security: str = "none") -> dict:
    return {
        "id": "5",
        "provider": "smtp",
        "name": "Sender",
        "settings": {
            "host": host,
            "port": port,
            "security": security,
            "from_email": "Acme <hello@acme.example>",
        },
        "secrets": {},
    }


def send_through(connection: dict):
    ctx = make_ctx(
        {"connection": connection["id"], "subject": "Hi", "body": "Hello"},
        idempotency_key="run-1:2",
    )
    ctx.connections = {connection["id"]: connection}
    return EmailAction().run(ctx)


@pytest.fixture
def two_mail_servers():
    """An allowed SMTP server on 127.0.0.1 and an "internal" one on 127.0.0.2, same port."""
    port = free_port()
    allowed, internal = Mailbox(), Mailbox()
    controllers = [
        Controller(allowed, hostname="127.0.0.1", port=port),
        Controller(internal, hostname="127.0.0.2", port=port),
    ]
    for controller in controllers:
        controller.start()
    yield port, allowed, internal
    for controller in controllers:
        controller.stop()


@pytest.fixture
def rebinding_dns(monkeypatch):
    """A name whose first answer is 127.0.0.1 (allowed) and every later one 127.0.0.2."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != REBINDING_NAME:
            return real(host, port, *args, **kwargs)
        address = "127.0.0.1" if not answers else "127.0.0.2"
        answers.append(address)
        return real(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_the_session_goes_to_the_checked_address_not_a_rebound_one(
    settings, two_mail_servers, rebinding_dns
):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]  # the address, not 127.0.0.2, not the name
    port, allowed, internal = two_mail_servers

    send_through(smtp_connection(REBINDING_NAME, port))

    assert [m["to"] for m in allowed.messages] == [["ada@example.com"]]
    assert internal.messages == []
    assert rebinding_dns == ["127.0.0.1"]  # resolved once, for the check


def test_a_name_resolving_to_loopback_is_refused_unless_allow_listed(settings, two_mail_servers):
    port, allowed, _internal = two_mail_servers
    settings.OUTBOUND_ALLOWLIST = []
    with pytest.raises(OutboundRefused, match=r"localhost resolves to .* loopback"):
        send_through(smtp_connection("localhost", port))
    assert allowed.messages == []

    settings.OUTBOUND_ALLOWLIST = ["localhost"]
    send_through(smtp_connection("localhost", port))
    assert len(allowed.messages) == 1


@pytest.fixture
def starttls_server(tmp_path):
    """An SMTP server on 127.0.0.1 that requires STARTTLS, its certificate naming localhost."""
    cert_path, key_path = _certificate(tmp_path, "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _context: names.append(name)
    mailbox = Mailbox()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True
    )
    controller.start()
    mailbox.port, mailbox.cert_path, mailbox.server_names = controller.port, cert_path, names
    yield mailbox
    controller.stop()


def test_starttls_to_the_checked_address_verifies_the_host_name(settings, starttls_server):
    settings.OUTBOUND_ALLOWLIST = ["localhost", "127.0.0.1"]
    settings.OUTBOUND_CA_BUNDLE = str(starttls_server.cert_path)

    send_through(smtp_connection("localhost", starttls_server.port, security="starttls"))

    assert len(starttls_server.messages) == 1
    assert starttls_server.server_names == ["localhost"]
    # By its address, the same server's certificate (for localhost) does not match.
    with pytest.raises(NodeError, match=r"TLS was refused: .*certificate"):
        send_through(smtp_connection("127.0.0.1", starttls_server.port, security="starttls"))
    assert len(starttls_server.messages) == 1
