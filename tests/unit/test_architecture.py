"""The dependency rules of DESIGN.md, enforced: import-linter contracts and a pure domain."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_MAY_IMPORT = frozenset(sys.stdlib_module_names) | {"domain", "eventsourcing", "msgspec"}


def test_import_linter_contracts_hold(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True)

    assert code == 0, capsys.readouterr().out


def imported_top_levels(path: Path) -> set[str]:
    """The first component of every absolute import in a module (relative ones stay inside)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_domain_imports_only_stdlib_eventsourcing_and_msgspec() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) - DOMAIN_MAY_IMPORT)
        for path in sorted((ROOT / "domain").rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_scan_would_catch_an_outsider(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom asyncpg import connect\nfrom . import sibling\n")
    assert imported_top_levels(module) - DOMAIN_MAY_IMPORT == {"asyncpg"}
