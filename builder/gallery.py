"""The templates gallery: ready-made workflows a team starts from.

Each template is one JSON file in `builder/gallery/<slug>.json`:
`{"slug", "name", "description", "category", "graph"}`, where `graph` is a
complete workflow document (the React Flow shape of DESIGN.md) that passes
`validate_graph`. The files are read once, on first use, and kept.

`tags` are not written in the files: they are derived from the node types
a template uses ("email", "wait-for-event", "switch", ...), so they can never
drift from the graph they describe.

Callers get deep copies: the "use this template" endpoint edits the graph it
receives into a draft, and that must never change the gallery itself.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

GALLERY_DIR = Path(__file__).resolve().parent / "gallery"

# Categories in the order the gallery shows them.
CATEGORIES = ("onboarding", "ecommerce", "retention", "sales", "product")

TEMPLATE_KEYS = ("slug", "name", "description", "category", "graph")

# The tag a node type contributes to its template (flow.end contributes none).
NODE_TYPE_TAGS = {
    "trigger.event": "event-trigger",
    "trigger.webhook": "webhook-trigger",
    "trigger.schedule": "scheduled",
    "trigger.property": "property-trigger",
    "trigger.segment": "tag-trigger",
    "trigger.inactivity": "inactivity",
    "condition.if": "if-else",
    "condition.switch": "switch",
    "condition.split": "a-b-test",
    "wait.delay": "delay",
    "wait.until": "delay",
    "wait.event": "wait-for-event",
    "action.email": "email",
    "action.update_contact": "update-contact",
    "action.tag": "tagging",
    "action.webhook": "webhook",
    "action.notify": "team-notification",
    "action.task": "task",
    "action.enroll": "chaining",
    "trigger.feature_adoption": "product-trigger",
    "trigger.product_health": "product-trigger",
    "trigger.product_signal": "product-trigger",
    "trigger.product_schedule": "scheduled",
    "action.escalate": "escalation",
    "action.enroll_product_contacts": "chaining",
}


def list_templates() -> list[dict[str, Any]]:
    """Every template (slug, name, description, category, tags, graph), in gallery order."""
    return [copy.deepcopy(template) for template in _templates().values()]


def get_template(slug: str) -> dict[str, Any] | None:
    """One template by slug, or None. The slug is only ever a key, never a path."""
    template = _templates().get(slug) if isinstance(slug, str) else None
    return copy.deepcopy(template) if template is not None else None


def tags_for(graph: dict[str, Any]) -> list[str]:
    """The tags of a graph's node types, in order of first appearance."""
    tags: list[str] = []
    for node in graph.get("nodes", []):
        tag = NODE_TYPE_TAGS.get(node.get("type", ""))
        if tag and tag not in tags:
            tags.append(tag)
    return tags


@cache
def _templates() -> dict[str, dict[str, Any]]:
    """slug -> template, sorted by category (gallery order) then name."""
    loaded = [_load(path) for path in sorted(GALLERY_DIR.glob("*.json"))]
    loaded.sort(key=lambda t: (CATEGORIES.index(t["category"]), t["name"].lower()))
    return {template["slug"]: template for template in loaded}


def _load(path: Path) -> dict[str, Any]:
    """Read and check one template file; a broken file is a deployment error, said loudly."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ImproperlyConfigured(f"gallery template {path.name}: {error}") from error
    if not isinstance(document, dict):
        raise ImproperlyConfigured(f"gallery template {path.name}: must be a JSON object")
    missing = [key for key in TEMPLATE_KEYS if key not in document]
    if missing:
        raise ImproperlyConfigured(f"gallery template {path.name}: missing {', '.join(missing)}")
    unknown = sorted(set(document) - set(TEMPLATE_KEYS))
    if unknown:
        raise ImproperlyConfigured(f"gallery template {path.name}: unknown {', '.join(unknown)}")
    if document["slug"] != path.stem:
        raise ImproperlyConfigured(
            f"gallery template {path.name}: slug {document['slug']!r} must match the file name"
        )
    if document["category"] not in CATEGORIES:
        raise ImproperlyConfigured(
            f"gallery template {path.name}: category {document['category']!r} "
            f"is not one of {', '.join(CATEGORIES)}"
        )
    if not isinstance(document["graph"], dict):
        raise ImproperlyConfigured(f"gallery template {path.name}: graph must be a JSON object")
    return {
        "slug": document["slug"],
        "name": document["name"],
        "description": document["description"],
        "category": document["category"],
        "tags": tags_for(document["graph"]),
        "graph": document["graph"],
    }
