"""Verbs on connections and webhook secrets; views and the admin call these."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from automation.nodes.base import NodeError

from .common import DEFAULT_PREFIX, default_connection_id
from .http.redaction import redact
from .models import Connection
from .providers import PROVIDERS

log = logging.getLogger("cairn.integrations")


def resolve_connections(workspace_id, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The engine's connection resolver: {id: decrypted connection} of this workspace only.

    "default:<provider>" resolves to the workspace's default connection of that
    provider (kept under that key), when it has one.
    """
    wanted = [int(i) for i in ids if str(i).isdigit()]
    found = Connection.objects.filter(workspace_id=workspace_id, pk__in=wanted)
    resolved = {str(c.pk): c.resolved() for c in found}
    for key in ids:
        if str(key).startswith(DEFAULT_PREFIX):
            default = Connection.workspace_default(workspace_id, str(key)[len(DEFAULT_PREFIX) :])
            if default is not None:
                resolved[str(key)] = default.resolved()
    return resolved


def test_connection(connection: Connection) -> tuple[bool, str]:
    """Make the provider's cheapest authenticated call; remember and return the verdict.

    The detail never carries a secret: it is redacted against the connection's own.
    """
    resolved = connection.resolved()
    secrets = [str(v) for v in resolved["secrets"].values()]
    try:
        detail = PROVIDERS[connection.provider].run_test(resolved)
        ok = True
    except NodeError as error:
        ok, detail = False, str(error)
    except Exception as error:  # a test must answer, whatever broke
        log.warning("testing connection %s failed: %s", connection.pk, type(error).__name__)
        ok, detail = False, f"{type(error).__name__}: {error}"
    detail = redact(detail, secrets)[:500]
    Connection.objects.filter(pk=connection.pk).update(
        last_tested_at=timezone.now(), last_test_ok=ok, last_test_detail=detail
    )
    return ok, detail


def workflows_using(connection: Connection) -> list[str]:
    """Names of the workflows whose live versions (deployed, or with runs still
    going) name this connection in a node's connection field."""
    from automation.graph import version_graph
    from automation.models import ACTIVE_RUN_STATUSES, Deployment, DeploymentStatus, Run
    from automation.nodes.registry import get_node_type

    live = {
        (version_id, name)
        for version_id, name in Deployment.objects.filter(
            workspace_id=connection.workspace_id,
            status__in=[DeploymentStatus.ACTIVE, DeploymentStatus.PAUSED],
        ).values_list("version_id", "workflow__name")
    }
    live |= set(
        # Preview runs have no version (they run a draft): not a live version.
        Run.objects.filter(
            workspace_id=connection.workspace_id,
            status__in=ACTIVE_RUN_STATUSES,
            version__isnull=False,
        )
        .values_list("version_id", "workflow__name")
        .distinct()
    )
    wanted = {str(connection.pk)}
    if connection.is_workspace_default:  # used by every step that falls back on it
        wanted.add(default_connection_id(connection.provider))
    using = set()
    for version_id, name in live:
        for node in version_graph(version_id).nodes.values():
            node_class = get_node_type(str(node.get("type", "")))
            config = (node.get("data") or {}).get("config") or {}
            if node_class is not None and wanted & set(node_class.connection_ids(config)):
                using.add(name)
    return sorted(using)
