"""SMTP transport for action.email, through Django's mail backends.

Every message carries a Message-ID derived from the step's idempotency key,
so a step retried after a crash sends a message the receiving side can
recognise as the same one.

A workspace's SMTP connection names a host that the outbound guard checks;
the session is then opened to the very addresses the guard checked (never
resolved again, so DNS cannot answer one thing to the check and another to
the connect), while STARTTLS / SSL still verify the certificate against the
host name (its server name), as the HTTP client does.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import make_msgid

from automation.nodes.base import NodeError, PermanentNodeError

from ..http import guard

IDEMPOTENCY_HEADER = "X-Cairn-Idempotency-Key"


def message_id_for(idempotency_key: str) -> str:
    """`<{key}@cairn>` with the key reduced to characters safe in a Message-ID."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", idempotency_key).strip("-.")[:200]
    return f"<{safe}@cairn>" if safe else make_msgid(domain="cairn")


def _smtp_code(error: smtplib.SMTPException) -> int | None:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        return min(codes) if codes else None
    return getattr(error, "smtp_code", None)


class _PinnedSMTP(smtplib.SMTP):
    """smtplib.SMTP that connects to checked addresses instead of resolving the host.

    The host name stays `_host`, which STARTTLS gives as the TLS server name.
    """

    def __init__(self, host: str = "", port: int = 0, *args, addresses=(), **kwargs):
        self._addresses = tuple(addresses)
        super().__init__(host, port, *args, **kwargs)

    def _get_socket(self, host, port, timeout):
        refused: OSError | None = None
        for address in self._addresses:
            try:
                return socket.create_connection((address, port), timeout, self.source_address)
            except OSError as error:  # e.g. an IPv6 address on a host without IPv6
                refused = error
        raise refused or OSError(f"{host} has no checked address to connect to")


class _PinnedSMTPSSL(smtplib.SMTP_SSL, _PinnedSMTP):
    """SMTP over TLS from the first byte, to checked addresses; the certificate is
    verified against the host name (SMTP_SSL wraps with server_hostname=_host)."""

    def __init__(self, host: str = "", port: int = 0, *args, addresses=(), **kwargs):
        self._addresses = tuple(addresses)
        smtplib.SMTP_SSL.__init__(self, host, port, *args, **kwargs)


class GuardedSMTPBackend(EmailBackend):
    """Django's SMTP backend, connecting only to the addresses the guard checked."""

    def __init__(self, *, addresses: tuple[str, ...], **kwargs):
        super().__init__(**kwargs)
        self.addresses = tuple(addresses)

    @property
    def connection_class(self):
        pinned = _PinnedSMTPSSL if self.use_ssl else _PinnedSMTP
        addresses = self.addresses

        def connect(host, port, **params):
            return pinned(host, port, addresses=addresses, **params)

        return connect

    @property
    def ssl_context(self):
        # The operator's private CA (OUTBOUND_CA_BUNDLE) as for outbound HTTPS;
        # host name checking stays on.
        bundle = getattr(settings, "OUTBOUND_CA_BUNDLE", "")
        return ssl.create_default_context(cafile=bundle or None)


def smtp_backend(connection: Mapping[str, Any] | None):
    """Django's SMTP backend for a workspace's SMTP connection, or the default one.

    The connection's host goes through the outbound guard first: a workspace
    cannot point its "mail server" at an internal service; the session then
    goes to the checked addresses only.
    """
    if not connection:
        return get_connection(fail_silently=False)
    options = connection.get("settings") or {}
    host = str(options.get("host", ""))
    port = int(options.get("port") or 587)
    checked = guard.resolve(host, port, where=f"smtp://{host}:{port}")
    security = options.get("security", "starttls")
    return GuardedSMTPBackend(
        addresses=checked.addresses,
        fail_silently=False,
        host=host,
        port=port,
        username=options.get("username") or "",
        password=(connection.get("secrets") or {}).get("password") or "",
        use_tls=security == "starttls",
        use_ssl=security == "ssl",
        timeout=settings.EMAIL_TIMEOUT,
    )


def test_connection(connection: Mapping[str, Any]) -> str:
    """Open a session with the SMTP server and log in (no message is sent)."""
    backend = smtp_backend(connection)
    try:
        backend.open()
    except smtplib.SMTPException as error:
        raise PermanentNodeError(f"the mail server refused: {error}") from error
    except OSError as error:
        raise NodeError(f"could not reach the mail server: {error}") from error
    backend.close()
    options = connection.get("settings") or {}
    return f"signed in to {options.get('host')}:{options.get('port')}"


def send_email(
    to: list[str],
    subject: str,
    body: str,
    html: str | None,
    from_email: str | None,
    reply_to: list[str] | None,
    idempotency_key: str,
    *,
    headers: Mapping[str, str] | None = None,
    connection: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Send one message; returns {"message_id", "to"}.

    Raises NodeError for what a retry may fix (connection refused, timeouts,
    4xx SMTP replies) and PermanentNodeError for 5xx replies and bad headers.
    """
    message_id = message_id_for(idempotency_key)
    headers = {**dict(headers or {}), "Message-ID": message_id}
    if idempotency_key:
        headers[IDEMPOTENCY_HEADER] = re.sub(r"[\r\n]+", " ", idempotency_key)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=list(to),
        reply_to=list(reply_to or []),
        headers=headers,
        connection=smtp_backend(connection),
    )
    if html:
        message.attach_alternative(html, "text/html")
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPException as error:
        code = _smtp_code(error)
        text = f"the mail server refused the message: {error}"
        if code is not None and code >= 500:
            raise PermanentNodeError(text) from error
        raise NodeError(text) from error
    except ssl.SSLError as error:  # before ValueError: a refused certificate is one too
        raise NodeError(f"the mail server's TLS was refused: {error}") from error
    except ValueError as error:  # BadHeaderError and malformed addresses
        raise PermanentNodeError(f"the message could not be built: {error}") from error
    except OSError as error:  # connection refused, DNS, timeouts
        raise NodeError(f"could not reach the mail server: {error}") from error
    return {"message_id": message_id, "to": list(to)}


def suppressed(workspace_id, addresses) -> set[str]:
    """The addresses (lower case) that asked this workspace for no more email."""
    if not workspace_id:
        return set()
    from ..models import EmailSuppression

    return EmailSuppression.among(workspace_id, addresses)
