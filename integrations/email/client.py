"""SMTP transport for action.email, through Django's mail backends.

Every message carries a Message-ID derived from the step's idempotency key,
so a step retried after a crash sends a message the receiving side can
recognise as the same one.
"""

from __future__ import annotations

import re
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid

from automation.nodes.base import NodeError, PermanentNodeError

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


def send_email(
    to: list[str],
    subject: str,
    body: str,
    html: str | None,
    from_email: str | None,
    reply_to: list[str] | None,
    idempotency_key: str,
) -> dict[str, Any]:
    """Send one message; returns {"message_id", "to"}.

    Raises NodeError for what a retry may fix (connection refused, timeouts,
    4xx SMTP replies) and PermanentNodeError for 5xx replies and bad headers.
    """
    message_id = message_id_for(idempotency_key)
    headers = {"Message-ID": message_id}
    if idempotency_key:
        headers[IDEMPOTENCY_HEADER] = re.sub(r"[\r\n]+", " ", idempotency_key)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=list(to),
        reply_to=list(reply_to or []),
        headers=headers,
        connection=get_connection(fail_silently=False),
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
