"""Print the node catalogue (what GET /api/v1/node-types/ lists) as JSON.

The canvas's unit tests read a snapshot of it:
    python manage.py dump_catalogue > frontend/src/test/catalogue.json
"""

import json

from django.core.management.base import BaseCommand

from automation.nodes.registry import all_node_types


def catalogue() -> list[dict]:
    return [node_type.describe() for node_type in all_node_types()]


class Command(BaseCommand):
    help = "Print the node catalogue as JSON (the canvas tests' snapshot)."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(catalogue(), indent=1, ensure_ascii=False))
