"""Imports point one way (DESIGN.md §1): apps depend on apiserver, never the reverse;
``apiserver.client`` and workers import no Django, storage or kind modules."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("rbac", "resources", "crds", "workers")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def python_files(package: str):
    base = ROOT / package
    return sorted(base.rglob("*.py")) if base.exists() else []


def test_there_is_code_to_check():
    assert python_files("apiserver"), "the apiserver package must exist"


@pytest.mark.parametrize("path", python_files("apiserver"), ids=lambda p: str(p.relative_to(ROOT)))
def test_apiserver_imports_no_app(path):
    bad = {m for m in imported_modules(path) if m.split(".")[0] in APPS}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


CLIENT_FORBIDDEN = ("django", "rest_framework", "channels", "apiserver.storage",
                    "apiserver.registry", "resources", "rbac", "crds")


@pytest.mark.parametrize("path", python_files("apiserver/client") + python_files("workers"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_client_and_workers_stay_clients(path):
    mods = imported_modules(path)
    bad = {m for m in mods if any(m == f or m.startswith(f + ".") for f in CLIENT_FORBIDDEN)}
    if "workers" in path.parts:
        bad |= {m for m in mods if m.startswith("apiserver") and not m.startswith("apiserver.client")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_layering_check_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from resources.core import KINDS\nimport rbac.models\n")
    assert {"resources.core", "rbac.models"} <= imported_modules(bad)
