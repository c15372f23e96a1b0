"""The OpenAPI document says what the API does: every answer it can give, and
how ids from one call feed the next.

drf-spectacular documents what each view declares; this post-processing hook
adds what every view shares, so a client generated from /api/schema/ and a
fuzzer (schemathesis, see docs/api.md "Checking the contract") find no answer
the document does not list:

- errors every operation can give: 400 (a bad query parameter or workspace
  header, a bad body), 401, 403 (role, workspace), 404 (an id or a page that
  is not there), 413 (a body over REQUEST_MAX_BYTES), 503 (database busy);
- OpenAPI links from the calls that create (or list) a resource to the
  operations that take its id, so a stateful client can chain them.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

DETAIL = "ErrorDetail"
ERROR = "Error"
METHODS = ("get", "post", "put", "patch", "delete")

_DETAIL_SCHEMA = {
    "type": "object",
    "description": 'An error that is not about a field: {"detail": "..."}.',
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}

# (status, description, schema component) added where missing.
_SHARED = {
    "400": "A query parameter, the workspace header or the body is not valid.",
    "401": "No credentials, or an unknown API key.",
    "403": "The caller's role, or the workspace named, does not allow this.",
    "404": "No such object in this workspace (or no such page of a list).",
    "409": "The stored state refuses this (a name taken, a draft with issues): fix it, retry.",
    "413": "The body is larger than REQUEST_MAX_BYTES.",
    "503": "The database is busy for now; retry after Retry-After seconds.",
}

# Links: (operation that yields ids, status) -> [(target operationId, {param: expression})].
_BODY_ID = "$response.body#/id"
_WORKFLOW_TARGETS = [
    "workflows_retrieve",
    "workflows_partial_update",
    "workflows_destroy",
    "workflows_draft_update",
    "workflows_publish_create",
    "workflows_status_update",
    "workflows_versions_list",
    "workflows_results_retrieve",
    "workflows_runs_list",
    "workflows_preview_create",
    "workflows_webhook_secrets_list",
    "workflows_webhook_secrets_create",
]
_PRODUCT_TARGETS = [
    "products_retrieve",
    "products_partial_update",
    "products_destroy",
    "products_analytics_retrieve",
    "products_configuration_retrieve",
    "products_configuration_update",
    "products_crossings_list",
    "products_escalations_list",
    "products_events_create",
    "products_features_create",
    "products_metrics_retrieve",
]
_PREVIEW_TARGETS = ["previews_next_create", "previews_choose_create", "runs_retrieve"]


def _links_plan() -> dict[tuple[str, str], list[tuple[str, dict[str, str]]]]:
    by_id = lambda targets, expression=_BODY_ID: [  # noqa: E731
        (target, {"id": expression}) for target in targets
    ]
    first = "$response.body#/results/0/id"
    return {
        ("workflows_create", "201"): by_id(_WORKFLOW_TARGETS),
        ("workflows_create_create", "201"): by_id(_WORKFLOW_TARGETS),
        ("templates_use_create", "201"): by_id(_WORKFLOW_TARGETS),
        ("workflows_list", "200"): by_id(_WORKFLOW_TARGETS, first),
        ("workflows_publish_create", "200"): [
            *by_id(["workflows_runs_list", "workflows_versions_list"]),
            (
                "workflows_versions_restore_create",
                {"id": _BODY_ID, "number": "$response.body#/version"},
            ),
        ],
        ("workflows_preview_create", "201"): by_id(_PREVIEW_TARGETS),
        ("workflows_runs_list", "200"): by_id(
            ["runs_retrieve", "runs_retry_create", "runs_cancel_create"], first
        ),
        ("dead_letters_list", "200"): by_id(
            ["runs_retrieve", "runs_retry_create", "runs_cancel_create"], first
        ),
        ("workflows_versions_list", "200"): [
            (
                "workflows_versions_restore_create",
                {"id": "$request.path.id", "number": "$response.body#/results/0/number"},
            )
        ],
        ("contacts_create", "201"): by_id(["contacts_retrieve", "contacts_partial_update"]),
        ("contacts_create", "200"): by_id(["contacts_retrieve", "contacts_partial_update"]),
        ("contacts_list", "200"): by_id(["contacts_retrieve", "contacts_partial_update"], first),
        ("connections_create", "201"): by_id(
            [
                "connections_retrieve",
                "connections_partial_update",
                "connections_destroy",
                "connections_test_create",
            ]
        ),
        ("products_create", "201"): by_id(_PRODUCT_TARGETS),
        ("products_list", "200"): by_id(_PRODUCT_TARGETS, first),
        ("products_features_create", "201"): [
            (
                "products_features_partial_update",
                {"id": "$request.path.id", "key": "$response.body#/key"},
            )
        ],
        ("products_escalations_list", "200"): by_id(["escalations_acknowledge_create"], first),
    }


def _operations(result: dict[str, Any]):
    for path, item in result.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _error(code: str, component: str) -> dict[str, Any]:
    reference = {"$ref": f"#/components/schemas/{component}"}
    return {"description": _SHARED[code], "content": {"application/json": {"schema": reference}}}


def _add_shared_errors(result: dict[str, Any]) -> None:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(DETAIL, _DETAIL_SCHEMA)
    for path, method, operation in _operations(result):
        if path.startswith("/hooks/"):  # no such workflow or webhook trigger
            operation.setdefault("responses", {}).setdefault("404", _error("404", DETAIL))
        if not path.startswith("/api/"):
            continue
        responses = operation.setdefault("responses", {})
        parameters = operation.get("parameters", [])
        wanted = {"400", "401", "403", "503"}
        if any(p.get("in") == "path" for p in parameters) or any(
            p.get("name") == "page" for p in parameters
        ):
            wanted.add("404")
        if "requestBody" in operation:
            wanted.add("413")
        if method != "get":
            wanted.add("409")
        for code in sorted(wanted - set(responses)):
            responses[code] = _error(code, ERROR if code == "400" and ERROR in schemas else DETAIL)


# Operations that answer 400 without a body: the body is required.
_BODY_REQUIRED = (
    "contacts_create",
    "events_create",
    "products_events_create",
    "segment_track_create",
    "segment_identify_create",
    "segment_batch_create",
)


def _require_bodies(result: dict[str, Any]) -> None:
    for _path, _method, operation in _operations(result):
        if operation.get("operationId") in _BODY_REQUIRED and "requestBody" in operation:
            operation["requestBody"]["required"] = True


def _add_links(result: dict[str, Any]) -> None:
    operations = {
        operation.get("operationId"): operation for _path, _method, operation in _operations(result)
    }
    for (source, code), targets in _links_plan().items():
        operation = operations.get(source)
        response = operation and operation.get("responses", {}).get(code)
        if not response:
            continue
        links = response.setdefault("links", {})
        for target, parameters in targets:
            if target in operations:
                links[target] = {"operationId": target, "parameters": parameters}


# Request bodies whose rules a serializer field cannot say, in JSON Schema.
_IDENTIFIED = {
    "anyOf": [
        {"required": ["email"], "properties": {"email": {"type": "string"}}},
        {"required": ["external_id"], "properties": {"external_id": {"type": "string"}}},
    ]
}
_NEEDS_IDENTITY = ("ContactWriteRequest", "EventContactRequest")
# Bodies whose unknown fields are refused (the graph's top level, a product's settings).
_CLOSED = ("DraftRequestRequest", "ConfigurationRequest")
_TIME_ZONED = (
    "ContactWriteRequest",
    "PatchedContactUpdateRequest",
    "EventContactRequest",
    "InboundContactRequest",
)


def enum_names(values: list[str]) -> list[str]:
    """Distinct identifiers for generated clients ("Etc/GMT+1" and "Etc/GMT-1" differ)."""
    names: list[str] = []
    for value in values:
        name = value.upper().replace("+", "_PLUS_").replace("-", "_MINUS_")
        name = re.sub(r"\W+", "_", name).strip("_")
        while name in names:
            name += "_"
        names.append(name)
    return names


def _not_blank(schema: Any) -> None:
    """DRF trims text and refuses what is left blank: a required non-empty text says
    so with a pattern (some non-space), or "\f" would be schema-valid and refused."""
    if isinstance(schema, dict):
        if (
            schema.get("type") == "string"
            and schema.get("minLength", 0) >= 1
            and not {"pattern", "format", "enum"} & set(schema)
        ):
            schema["pattern"] = r"\S"
        for value in schema.values():
            _not_blank(value)
    elif isinstance(schema, list):
        for value in schema:
            _not_blank(value)


def _refine_components(result: dict[str, Any]) -> None:
    from .serializers_connections import connection_request_schemas
    from .serializers_contacts import TIME_ZONES

    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request"):
            _not_blank(schema)
    for name in _TIME_ZONED:
        zone = schemas.get(name, {}).get("properties", {}).get("time_zone")
        if zone is not None:
            zone["enum"] = sorted(TIME_ZONES)
            zone["x-enum-varnames"] = enum_names(zone["enum"])
    for name in _NEEDS_IDENTITY:
        if name in schemas:
            schemas[name].update(_IDENTIFIED)
    for name in _CLOSED:
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    batch = schemas.get("EventBatchRequest", {}).get("properties", {}).get("events")
    if batch is not None:
        batch.update(minItems=1, maxItems=settings.EVENT_BATCH_MAX)
    if "DraftRequestRequest" in schemas:  # React Flow saves its viewport too
        schemas["DraftRequestRequest"]["properties"]["viewport"] = {"type": "object"}
    if "ConnectionRequest" in schemas:
        schemas.update(connection_request_schemas(schemas["ConnectionRequest"]))


def postprocess(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]: exact request rules, shared errors, links."""
    _refine_components(result)
    _require_bodies(result)
    _add_shared_errors(result)
    _add_links(result)
    return result
