"""Layers: imports point one way, between apps and inside each, never in a circle.

Invariants (DESIGN.md "Layout", STYLE.md "Layers inside an app"): the apps
depend on each other only as ALLOWED says (automation imports none of the
others); no two modules of one app import each other, directly or round a
circle, whether at module level or inside a function; the engine never
imports intake (the events' ingest or the queued intake).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# app -> the apps it may import.
ALLOWED = {
    "automation": set(),
    "integrations": {"automation"},
    "builder": {"automation", "integrations"},
    "products": {"automation", "builder", "integrations"},
    "ops": {"automation"},
}
# config is the project's wiring (urls, asgi, routing import every app) and
# infrastructure every app may use.
INFRASTRUCTURE = (
    "config.env",
    "config.bodylimit",
    "config.celery",
    "config.redis_clients",
    "config.dependency_log",
    "config.keys",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module this file imports, anywhere in it (functions included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def sources(app: str) -> list[Path]:
    return [path for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts]


def graph(app: str) -> dict[str, set[str]]:
    modules = {module_name(path): path for path in sources(app)}
    return {
        name: {target for target in imports_of(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def refused_imports(app: str, path: Path) -> set[str]:
    def refused(target: str) -> bool:
        top = target.split(".")[0]
        if top == "config":
            return target != "config" and not target.startswith(INFRASTRUCTURE)
        return top in ALLOWED and top != app and top not in ALLOWED[app]

    return {target for target in imports_of(path) if refused(target)}


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_an_app_imports_only_the_apps_below_it(app):
    for path in sources(app):
        refused = refused_imports(app, path)
        assert not refused, f"{path.relative_to(ROOT)} imports {sorted(refused)}"


def test_the_engine_never_imports_intake():
    edges = graph("automation")
    engine = {name for name in edges if name.split(".")[:2] == ["automation", "engine"]}
    assert engine, "the engine's modules were not found"
    for name in engine:
        assert not edges[name] & {"automation.ingest", "automation.pending_events"}, name


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_no_import_cycles_inside_an_app(app):
    edges = graph(app)
    cycles = []

    def visit(node, trail):
        for target in sorted(edges[node]):
            if target in trail:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in done:
                visit(target, [*trail, target])
        done.add(node)

    done: set[str] = set()
    for start in sorted(edges):
        if start not in done:
            visit(start, [start])
    assert not cycles, "\n".join(" → ".join(cycle) for cycle in cycles)
