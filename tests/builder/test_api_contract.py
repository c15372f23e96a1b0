"""The API keeps the contract its schema states: a bounded schemathesis smoke.

Invariants (issue 16, point 12): over every operation of /api/schema/, with
deterministic generated cases, no answer is a 5xx; every status code and
content type is documented; every documented body matches its schema; and a
request the schema says is valid is not refused with a 400 (the few
operations whose rules read stored data say so in schemathesis.toml). The full
run (all phases, stateful through the OpenAPI links) is in docs/api.md.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.builder.factories import make_api_key

# 60 operations x 4 cases: a few hundred requests through the real app.
CASES_PER_OPERATION = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]


@pytest.fixture
def contract_schema(db, settings):
    settings.API_DOCS_PUBLIC = True
    # The requests run in the test's transaction, as Django's test client runs them:
    # the handler must not close the connection at the end of each one.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_key(workspace_a) -> dict[str, str]:
    _key, raw = make_api_key(workspace_a)
    return {"Authorization": f"Bearer {raw}"}


schema = schemathesis.pytest.from_fixture("contract_schema")


@schema.parametrize()
@settings(
    max_examples=CASES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_its_documented_contract(case, api_key):
    case.call_and_validate(headers=api_key, checks=CHECKS)
