"""The sandbox stands in for Handy and Gestionix: it must not agree with our code by
construction, so it imports none of the integration's packages, and its modules form no circle."""

from __future__ import annotations

import ast
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"
OURS = {"flows", "tasks", "mappings", "clients", "store", "ops", "bench", "cli"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at top level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_sandbox_imports_nothing_of_the_integration():
    offending = {
        path.name: sorted(m for m in imported_modules(path) if m.split(".")[0] in OURS)
        for path in sorted(SANDBOX.glob("*.py"))
    }
    assert {name: mods for name, mods in offending.items() if mods} == {}


def test_sandbox_stand_ins_do_not_import_their_world_generator():
    """sandbox.data builds Handy's and Gestionix's states; they get its generator injected."""
    for name in ("handy.py", "gestionix.py"):
        assert "sandbox.data" not in imported_modules(SANDBOX / name), name
