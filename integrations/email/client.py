"""SMTP transport for action.email, through Django's mail backends.

Every message carries a Message-ID derived from the step's idempotency key,
so a step retried after a crash sends a message the receiving side can
recognise as the same one.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
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


def smtp_backend(connection: Mapping[str, Any] | None):
    """Django's SMTP backend for a workspace's SMTP connection, or the default one.

    The connection's host goes through the outbound guard first: a workspace
    cannot point its "mail server" at an internal service.
    """
    if not connection:
        return get_connection(fail_silently=False)
    options = connection.get("settings") or {}
    host = str(options.get("host", ""))
    port = int(options.get("port") or 587)
    guard.resolve(host, port, where=f"smtp://{host}:{port}")
    security = options.get("security", "starttls")
    return get_connection(
        backend="django.core.mail.backends.smtp.EmailBackend",
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
    except ValueError as error:  # BadHeaderError and malformed addresses
        raise PermanentNodeError(f"the message could not be built: {error}") from error
    except OSError as error:  # connection refused, DNS, timeouts
        raise NodeError(f"could not reach the mail server: {error}") from error
    return {"message_id": message_id, "to": list(to)}
