"""JSON from outside, parsed and checked before anything reads it.

What `json.loads` accepts and the rest of Cairn cannot hold:
- NUL characters and lone surrogates (`"\\ud800"`), in values or keys:
  PostgreSQL refuses both, and a lone surrogate cannot even be encoded into
  an error message;
- nesting deeper than MAX_DEPTH: the C parser raises RecursionError past
  ~1000 levels, and every recursive reader after it (rules, templates, the
  JSON Schema validator) would fail the same way sooner;
- `Infinity`, `NaN` and numbers such as `1e400` that overflow to infinity: a
  JSON column cannot store them.

`loads` raises UnsafeJSON naming the path of the first such value, in the
API's field notation (`events[3].data.note`), so the caller answers 400.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


class UnsafeJSON(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def loads(text: str) -> Any:
    """Parse `text`; raise UnsafeJSON for what cannot be stored, ValueError for bad JSON."""
    try:
        value = json.loads(text, parse_constant=float)
    except RecursionError:
        raise UnsafeJSON(_deep_path(text) or "body", _too_deep()) from None
    problem = find_problem(value)
    if problem is not None:
        raise UnsafeJSON(*problem)
    return value


def find_problem(value: Any, root: str = "") -> tuple[str, str] | None:
    """(path, message) of the first value in document order that cannot be stored, or None."""
    stack: list[tuple[Any, str, int]] = [(value, root, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return path or "body", f"text {_bad_chars(item)}"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return path or "body", "numbers must be finite (no Infinity, NaN or 1e400)"
        elif isinstance(item, Mapping | list):
            if depth >= MAX_DEPTH:
                return path or "body", _too_deep()
            children = []
            if isinstance(item, Mapping):
                for key, child in item.items():
                    name = _key_name(key)
                    child_path = f"{path}.{name}" if path else name
                    if isinstance(key, str) and _UNSTORABLE.search(key):
                        return child_path, f"keys {_bad_chars(key)}"
                    children.append((child, child_path, depth + 1))
            else:
                children = [(child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item)]
            stack.extend(reversed(children))
    return None


def _bad_chars(text: str) -> str:
    if "\x00" in text:
        return "must not contain NUL (\\u0000) characters"
    return "must not contain lone UTF-16 surrogates (\\ud800-\\udfff)"


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels of objects and lists"


def _key_name(key: Any) -> str:
    """A key as it appears in a field path; escaped so the path itself is storable text."""
    key = str(key)
    if _UNSTORABLE.search(key):
        return json.dumps(key, ensure_ascii=True)[1:-1]
    return key


def _deep_path(text: str) -> str:
    """The path to the first container nested deeper than MAX_DEPTH, from the raw text.

    Used when the parser itself gave up, so this reads only the tokens that
    shape the document (strings, brackets, commas and colons).
    """
    open_: list[list[Any]] = []  # per open container: ["{", key] or ["[", index]
    last_string = ""
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            if len(open_) >= MAX_DEPTH:
                break
            open_.append([token, "" if token == "{" else 0])
        elif token in ("]", "}"):
            if open_:
                open_.pop()
        elif token == ",":
            if open_ and open_[-1][0] == "[":
                open_[-1][1] += 1
        elif token == ":":
            if open_ and open_[-1][0] == "{":
                open_[-1][1] = last_string
        else:
            last_string = token
    path = ""
    for kind, where in open_:
        if kind == "[":
            path += f"[{where}]"
        else:
            try:
                name = _key_name(json.loads(where)) if where else ""
            except ValueError:
                name = "?"
            path = f"{path}.{name}" if path else name
    return path


# ---------------------------------------------------------------- the API's doors
# Both the REST API (builder) and the inbound webhooks (integrations) parse
# with this, so it lives here, where both may import it.


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with `loads` above: an unsafe value is a 400 naming its field."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as error:
            raise exceptions.ParseError(f"the body is not valid {encoding}: {error}") from None
        try:
            return loads(text)
        except UnsafeJSON as error:
            raise exceptions.ValidationError({error.field: [error.message]}) from None
        except ValueError as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from None


def check_query_params(query_params) -> None:
    """Refuse query parameters the database cannot compare with (NUL, lone surrogates)."""
    for name, values in query_params.lists():
        if any(_UNSTORABLE.search(text) for text in [name, *values]):
            raise exceptions.ValidationError(
                {_key_name(name): [f"query parameters {_bad_chars(name + ''.join(values))}"]}
            )


# ---------------------------------------------------------------- what a step keeps
# Step outputs hold what outside services answered. Unlike the API's doors,
# nothing can be refused there (the call was made): what cannot be stored is
# replaced, and the output says so.

REPLACEMENT = "\ufffd"
STORAGE_NOTE = "storage_note"
NOTE_PATHS = 5  # paths named in a storage note; the rest are counted


def storable(value: Any, max_bytes: int | None = None) -> Any:
    """`value` as a JSON column can hold it, on PostgreSQL and on SQLite alike.

    - NUL characters and lone surrogates in text and keys become U+FFFD (the
      replacement character, as undecodable bytes already are);
    - Infinity and NaN become their names as text;
    - containers nested deeper than MAX_DEPTH are replaced by a short text;
    - anything else JSON has no type for becomes its text (`str()`);
    - a result longer than `max_bytes` as JSON is kept as
      `{"truncated": true, "preview": <its first max_bytes / 2 characters>}`.

    When something was replaced and the value is an object, its
    `storage_note` says what and where, so a reader of the step knows the
    text is not exactly what the service sent.
    """
    changed: list[str] = []
    clean = _storable(value, "", 0, changed)
    if changed and isinstance(clean, dict):
        clean[STORAGE_NOTE] = _storage_note(changed)
    text = json.dumps(clean)
    if max_bytes is not None and len(text) > max_bytes:
        return {"truncated": True, "preview": text[: max_bytes // 2]}
    return clean


def _storable(value: Any, path: str, depth: int, changed: list[str]) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        changed.append(f"{path or 'value'}: {value} is not a number JSON can hold")
        return str(value)
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            changed.append(path or "value")
            return _UNSTORABLE.sub(REPLACEMENT, value)
        return value
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            changed.append(f"{path or 'value'}: {_too_deep()}")
            return f"[{_too_deep()}: not kept]"
        if isinstance(value, Mapping):
            clean = {}
            for key, child in value.items():
                name = _json_key(key)
                child_path = f"{path}.{name}" if path else name
                if _UNSTORABLE.search(name):
                    name = _UNSTORABLE.sub(REPLACEMENT, name)
                    child_path = f"{path}.{name}" if path else name
                    changed.append(f"{child_path} (its name)")
                clean[name] = _storable(child, child_path, depth + 1, changed)
            return clean
        return [
            _storable(child, f"{path}[{index}]", depth + 1, changed)
            for index, child in enumerate(value)
        ]
    return _storable(str(value), path, depth, changed)  # as json.dumps(default=str) did


def _json_key(key: Any) -> str:
    """An object key as json.dumps writes it (True -> "true", 1 -> "1")."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return str(key)


def _short(where: str, limit: int = 80) -> str:
    return where if len(where) <= limit else "…" + where[-(limit - 1) :]


def _storage_note(changed: list[str]) -> str:
    shown = ", ".join(_short(where) for where in changed[:NOTE_PATHS])
    more = len(changed) - NOTE_PATHS
    if more > 0:
        shown += f" and {more} more"
    return (
        "Stored with changes: NUL characters and lone UTF-16 surrogates are replaced "
        f"with U+FFFD, other values a database cannot hold by their text, in: {shown}"
    )
