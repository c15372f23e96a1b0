"""The runtime's layers: imports point one way, and never in a circle.

Invariants (DESIGN.md, "Layout" and STYLE.md, "Layers inside an app"):
automation/ imports neither builder/ nor integrations/; no two of its
modules import each other, directly or round a circle, whether at module
level or inside a function; the engine never imports intake (ingest).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "automation"


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


def graph() -> dict[str, set[str]]:
    modules = {
        module_name(path): path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts
    }
    return {
        name: {target for target in imports_of(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def test_the_runtime_imports_neither_builder_nor_integrations():
    for path in PACKAGE.rglob("*.py"):
        outside = {
            target
            for target in imports_of(path)
            if target.split(".")[0] in ("builder", "integrations")
        }
        assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}"


def test_the_engine_never_imports_intake():
    assert "automation.ingest" not in graph()["automation.engine"]


def test_no_import_cycles_inside_the_runtime():
    edges = graph()
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
