"""Run a connector node by hand with a connection, as the engine would resolve it."""

from __future__ import annotations

from tests.automation.node_helpers import make_ctx


def conn(provider, service, settings=None, secrets=None, id_="7"):
    return {
        "id": id_,
        "provider": provider,
        "name": provider,
        "settings": {"base_url": service.url, **(settings or {})},
        "secrets": secrets or {},
    }


def run(node_class, config, connection, **fields):
    fields.setdefault("idempotency_key", "run-1:2")
    ctx = make_ctx({"connection": connection["id"], **config}, **fields)
    ctx.connections = {connection["id"]: connection}
    return node_class().run(ctx)


def stored_connection(workspace, provider, url, settings=None, secrets=None):
    """A workspace's saved connection to a stand-in service at `url` (secrets encrypted)."""
    from integrations.models import Connection

    made = Connection(
        workspace=workspace,
        provider=provider,
        name=provider,
        settings={"base_url": url, **(settings or {})},
    )
    made.set_secrets(secrets or {})
    made.save()
    return made
