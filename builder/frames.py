"""What a watcher may send over the canvas's WebSockets, checked before it is parsed.

Clients send small requests such as `{"type": "snapshot"}`. A frame that is
binary, larger than MAX_FRAME_BYTES, nested deeper than MAX_DEPTH, not JSON,
or JSON that is not an object with a text `type` is a BadFrame: the consumer
closes with BAD_FRAME (4400) and the reason, instead of an unhandled error
that dropped the socket (and, 2,000 levels deep, a RecursionError in the
parser). The size is checked before anything is parsed, the depth by one
linear scan, so a hostile frame costs at most one pass over 64 KiB.
"""

from __future__ import annotations

import json
from typing import Any

BAD_FRAME = 4400
MAX_FRAME_BYTES = 64 * 1024
MAX_DEPTH = 32


class BadFrame(ValueError):
    """A frame the consumer will not act on; str() is the close reason (short, plain)."""


def nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { outside JSON strings (a JSON-ish scan, no parse)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_request(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
    """The request a frame carries, or BadFrame saying what is wrong with it."""
    if text_data is None:
        raise BadFrame("bad frame: send JSON text, not binary")
    if len(text_data) > MAX_FRAME_BYTES or len(text_data.encode()) > MAX_FRAME_BYTES:
        raise BadFrame(f"bad frame: larger than {MAX_FRAME_BYTES // 1024} KiB")
    if nesting_depth(text_data) > MAX_DEPTH:
        raise BadFrame(f"bad frame: nested deeper than {MAX_DEPTH} levels")
    try:
        request = json.loads(text_data)
    except (ValueError, RecursionError) as error:
        raise BadFrame("bad frame: not JSON") from error
    if not isinstance(request, dict) or not isinstance(request.get("type"), str):
        raise BadFrame('bad frame: expected an object like {"type": "snapshot"}')
    return request
