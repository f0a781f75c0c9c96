"""The package dependency rule (DESIGN.md section 3), checked on every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("service", "journal", "models", "reports", "training", "config")
ALLOWED = {
    "service": {"service", "journal", "models", "reports", "config"},
    "training": {"training", "journal", "models", "reports", "config"},
    "reports": {"reports", "journal", "models", "config"},
    "journal": {"journal", "models", "config"},
    "models": {"models", "config"},
    "config": {"config"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_what_the_rule_allows(package):
    broken = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        extra = imported_packages(path) - ALLOWED[package]
        if extra:
            broken[str(path.relative_to(ROOT))] = sorted(extra)
    assert broken == {}


def test_models_import_neither_flask_nor_redis():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "models").rglob("*.py")
        if {"flask", "redis"} & {n.split(".")[0] for n in _all_imports(p)}
    ]
    assert offenders == []


def _all_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names
