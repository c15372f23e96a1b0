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
