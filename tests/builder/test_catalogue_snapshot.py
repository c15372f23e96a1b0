"""The canvas's unit tests run against a snapshot of the node catalogue; it must be the live one."""

import json
from pathlib import Path

from builder.management.commands.dump_catalogue import catalogue

SNAPSHOT = Path(__file__).resolve().parents[2] / "frontend" / "src" / "test" / "catalogue.json"


def test_the_canvas_tests_use_the_live_catalogue():
    # Invariant: a schema change on the server cannot leave the canvas's
    # schema-to-form and summary tests passing against an old catalogue.
    assert json.loads(SNAPSHOT.read_text()) == json.loads(json.dumps(catalogue())), (
        "frontend/src/test/catalogue.json is stale: run "
        "`.venv/bin/python manage.py dump_catalogue > frontend/src/test/catalogue.json`"
    )
