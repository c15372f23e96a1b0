"""Unsubscribe links, open pixels and click redirects for marketing email.

Each link carries a signed token (django.core.signing, salted): the
workspace, the contact, the message and, for a click, the destination. A
token cannot be forged or pointed elsewhere, so the click redirect is no
open redirect. Nothing here touches the ORM: the views do.
"""

from __future__ import annotations

import html
import re
from typing import Any

from django.conf import settings
from django.core import signing

SALT = "cairn.email.tracking"
HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+")


def make_token(**payload: Any) -> str:
    return signing.dumps(payload, salt=SALT, compress=True)


def read_token(token: str) -> dict[str, Any]:
    """The payload of a token; raises signing.BadSignature for a forged or damaged one."""
    return signing.loads(token, salt=SALT)


def _base() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/")


def unsubscribe_url(ref: dict[str, Any]) -> str:
    return f"{_base()}/hooks/email/unsubscribe/{make_token(**ref)}"


def open_pixel_url(ref: dict[str, Any]) -> str:
    return f"{_base()}/hooks/email/open/{make_token(**ref)}.gif"


def click_url(ref: dict[str, Any], destination: str) -> str:
    return f"{_base()}/hooks/email/click/{make_token(**ref, u=destination)}"


def html_from_text(text: str) -> str:
    """The HTML part of a text-only template: escaped, paragraphs, links clickable."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    rendered = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph)
        linked = URL_IN_TEXT.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        rendered.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return "\n".join(rendered)


def track_links(body: str, ref: dict[str, Any]) -> str:
    """Every http(s) link of the HTML goes through the click redirect."""

    def rewrite(match: re.Match) -> str:
        destination = html.unescape(match.group(3))
        quote = match.group(2)
        return f"{match.group(1)}{quote}{html.escape(click_url(ref, destination))}{quote}"

    return HREF.sub(rewrite, body)


def with_footer_and_pixel(
    body: str, ref: dict[str, Any], *, unsubscribe: str | None, pixel: bool
) -> str:
    extra = ""
    if unsubscribe:
        extra += (
            '<p style="font-size:12px;color:#6b7280">You get this email because you signed up. '
            f'<a href="{html.escape(unsubscribe)}">Unsubscribe</a></p>'
        )
    if pixel:
        extra += (
            f'<img src="{html.escape(open_pixel_url(ref))}" width="1" height="1" alt="" '
            'style="display:block;border:0">'
        )
    if "</body>" in body.lower():
        index = body.lower().rindex("</body>")
        return body[:index] + extra + body[index:]
    return body + "\n" + extra
