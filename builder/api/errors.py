"""Every API error in one shape.

A 400 answers `{"detail": "<one line naming the field>", "errors": {field: [messages]}}`;
a graph problem adds `"issues"` (GraphIssue.as_dict() each) and `"field"`.
Field names are paths into the request body: `events[3].data`, `contact.email`.
Other errors keep DRF's `{"detail": ...}`.

A well-formed request that the stored state refuses is a 409 with the same body
as a 400: publishing (or previewing) a draft that has issues, a status change the
workflow's status does not allow, deleting a live workflow, a name or key already
taken (Conflict, refused_by_state()). A 400 means the request itself is wrong, as
the schema says; a 409 means "fix the workflow (or pick another name), then retry".
A refused state change of a run is a 409;
a database that cannot answer for now (lock timeout, SQLite busy) is a 503 with Retry-After.
A draft save whose If-Match names an old revision is a 412 with the draft as
it is now: `{"detail", "revision", "draft"}`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from automation.contacts import ContactError
from automation.runs import RunStateError
from builder.services import DraftConflict, WorkflowError

log = logging.getLogger("cairn.api")

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY
BODY = "body"


class Conflict(exceptions.APIException):
    """409: `field` is fine as sent, but the stored state refuses it (e.g. a name taken)."""

    status_code = status.HTTP_409_CONFLICT

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StateConflict(Exception):
    """A WorkflowError raised by a verb on stored state (publish, status, delete, preview)."""

    def __init__(self, error: WorkflowError) -> None:
        super().__init__(str(error))
        self.error = error


@contextmanager
def refused_by_state() -> Iterator[None]:
    """Around a service verb whose refusals depend on the workflow as stored: 409, not 400."""
    try:
        yield
    except WorkflowError as error:
        raise StateConflict(error) from error


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, StateConflict):
        set_rollback()
        return Response(workflow_error_body(exc.error), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Conflict):
        set_rollback()
        return Response(
            {"detail": str(exc.detail), "errors": {exc.field: [exc.message]}},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, WorkflowError):
        set_rollback()
        return Response(workflow_error_body(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ContactError):
        # Another contact holds that email / external id: the stored contacts refuse it.
        set_rollback()
        return Response(
            validation_error_body({exc.field: [str(exc)]}), status=status.HTTP_409_CONFLICT
        )
    if isinstance(exc, DraftConflict):
        set_rollback()
        response = Response(
            {"detail": str(exc), "revision": exc.revision, "draft": exc.draft},
            status=status.HTTP_412_PRECONDITION_FAILED,
        )
        response["ETag"] = etag(exc.revision)
        return response
    elif isinstance(exc, RunStateError):
        set_rollback()
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, OperationalError):
        # The database refused for now (a lock held too long; on SQLite
        # "database is locked"): nothing was kept, and the client may retry.
        set_rollback()
        log.warning("API request refused by the database: %s", exc)
        return Response(
            {"detail": "the database is busy; try again in a moment"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.messages}
        )
    elif isinstance(exc, exceptions.ParseError):
        exc = exceptions.ValidationError({BODY: [str(exc.detail)]})

    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = validation_error_body(exc.detail)
    return response


def etag(revision: int) -> str:
    """The ETag of a draft revision: `"7"`."""
    return f'"{revision}"'


def workflow_error_body(exc: WorkflowError) -> dict[str, Any]:
    field = exc.field or "draft"
    issues = [issue.as_dict() for issue in exc.issues]
    messages = [str(exc)] + [issue["message"] for issue in issues]
    return {
        "detail": f"{field}: {exc}" if exc.field else str(exc),
        "field": exc.field,
        "errors": {field: messages},
        "issues": issues,
    }


def validation_error_body(detail: Any) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    for field, messages in flatten_errors(detail):
        errors.setdefault(field or NON_FIELD, []).extend(messages)
    if not errors:
        errors = {NON_FIELD: ["invalid input"]}
    first_field, first_messages = next(iter(errors.items()))
    summary = first_messages[0]
    if first_field != NON_FIELD:
        summary = f"{first_field}: {summary}"
    others = sum(len(messages) for messages in errors.values()) - 1
    if others:
        summary += f" (and {others} more problem{'s' if others > 1 else ''})"
    return {"detail": summary, "errors": errors}


def flatten_errors(detail: Any, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    """DRF's nested error detail as (path, messages).

    {"events": [{}, {"type": ["..."]}]} gives ("events[1].type", ["..."]).
    """
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # ListField / DictField children
                path = f"{prefix}[{key}]"
            elif key == NON_FIELD:
                path = prefix  # an object-level error belongs to the object itself
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            yield from flatten_errors(value, path)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            if detail:
                yield prefix, [str(item) for item in detail]
            return
        for index, item in enumerate(detail):
            if item:
                yield from flatten_errors(item, f"{prefix}[{index}]")
    else:
        yield prefix, [str(detail)]


@csrf_exempt  # it changes nothing; a DELETE to a wrong path must get the JSON 404 too
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """An /api/ path no route matches (an unknown endpoint, an id of the wrong shape):
    the API's JSON 404, as documented for every operation, never the HTML page."""
    return JsonResponse({"detail": "no such endpoint or object"}, status=404)
