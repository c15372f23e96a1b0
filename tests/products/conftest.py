"""The API fixtures of tests/builder (two workspaces, clients by role), shared here."""

from tests.builder.conftest import (  # noqa: F401 (pytest finds fixtures by name)
    client_a,
    client_b,
    client_for,
    workspace_a,
    workspace_b,
)
