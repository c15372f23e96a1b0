"""What the guarded client keeps of an answer that is not text.

Invariant: bytes are kept as base64, bounded like text (MAX_BINARY_BYTES of
them, `truncated` says so, `size` is what was read), and a connection's
secret echoed in them is cut out first: base64 would hide it from the
redaction every other answer gets.
"""

from __future__ import annotations

import base64

import pytest

from integrations.http import client as http

SECRET = "sk_live_echoed_back_0123456789"


def test_a_large_binary_answer_is_cut_to_the_bound(service):
    blob = bytes(range(256)) * 100  # 25,600 bytes
    service.answer(200, blob, content_type="image/png")

    body = http.request("GET", f"{service.url}/logo.png").captured()["body"]

    assert body["content_type"] == "image/png"
    assert body["size"] == len(blob)
    assert body["truncated"] is True
    assert base64.b64decode(body["base64"]) == blob[: http.MAX_BINARY_BYTES]
    assert len(body["base64"]) <= http.MAX_TEXT_CHARS


def test_a_secret_echoed_in_bytes_is_redacted_before_encoding(service):
    service.answer(200, b"\x00\x01" + SECRET.encode() + b"\xff", content_type="application/x-bin")

    body = http.request("GET", f"{service.url}/echo", secrets=[SECRET]).captured()["body"]

    assert base64.b64decode(body["base64"]) == b"\x00\x01[redacted]\xff"


@pytest.mark.parametrize(
    ("content_type", "raw", "kept"),
    [
        ("text/plain", b"a\x00b", "a\x00b"),  # text, NUL and all (the step replaces it)
        ("application/xml; charset=utf-8", b"<a>1</a>", "<a>1</a>"),
        ("application/problem+json", b'{"title": "no"}', {"title": "no"}),
        ("application/octet-stream", b"ascii but octets", None),
    ],
)
def test_text_or_bytes_by_content_type(service, content_type, raw, kept):
    service.answer(200, raw, content_type=content_type)
    body = http.request("GET", f"{service.url}/x").captured()["body"]
    if kept is None:
        assert base64.b64decode(body["base64"]) == raw
    else:
        assert body == kept
