"""A client generated from /api/schema/ works against a live server.

Invariant (issue 16, point 12): what openapi-python-client generates from the
served schema parses every answer it gets. Before, the templates list was
documented as an array but served as {"count", "results"}, and the
generated client raised on it. The client is generated into tmp_path on each
run, then drives a real server (pytest-django's live_server) with an API key:
list templates, create a workflow, save its draft, publish it, list its runs.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.builder.factories import make_api_key
from tests.builder.graphs import tag_graph

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def schema_file(tmp_path, workspace_a) -> Path:
    _key, raw = make_api_key(workspace_a)
    response = Client().get("/api/schema/", {"format": "json"}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(response.json()))
    return path


@pytest.fixture
def cairn_client(schema_file, tmp_path, monkeypatch):
    """The generated package `cairn_client`, importable; its generator said nothing."""
    package = tmp_path / "cairn_client"
    environment = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            *("--path", str(schema_file), "--meta", "none", "--output-path", str(package)),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # A schema piece the generator cannot read is dropped with a warning: none allowed.
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("cairn_client")
    for name in [name for name in sys.modules if name.startswith("cairn_client")]:
        del sys.modules[name]


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_drives_the_api(cairn_client, live_server, workspace_a):
    from cairn_client.api.templates import templates_list
    from cairn_client.api.workflows import (
        workflows_create,
        workflows_draft_update,
        workflows_publish_create,
        workflows_runs_list,
    )
    from cairn_client.models import (
        DraftRequestRequest,
        DraftResponse,
        PaginatedRunList,
        PublishRequestRequest,
        PublishResponse,
        TemplateList,
        Workflow,
        WorkflowCreateRequest,
    )

    _key, raw = make_api_key(workspace_a)
    client = cairn_client.AuthenticatedClient(base_url=live_server.url, token=raw)

    templates = templates_list.sync(client=client)
    assert isinstance(templates, TemplateList), templates
    assert templates.count == len(templates.results) > 0
    assert templates.results[0].slug

    created = workflows_create.sync(client=client, body=WorkflowCreateRequest(name="Welcome"))
    assert isinstance(created, Workflow), created
    assert created.version is None  # documented nullable, served null

    saved = workflows_draft_update.sync(
        created.id, client=client, body=DraftRequestRequest.from_dict(tag_graph())
    )
    assert isinstance(saved, DraftResponse), saved
    assert saved.issues == [] and saved.revision == 2

    published = workflows_publish_create.sync(
        created.id, client=client, body=PublishRequestRequest(note="first")
    )
    assert isinstance(published, PublishResponse), published
    assert (published.status, published.version) == ("active", 1)

    runs = workflows_runs_list.sync(created.id, client=client)
    assert isinstance(runs, PaginatedRunList), runs
    assert runs.count == 0 and runs.results == []
