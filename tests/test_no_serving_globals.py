"""No module-level mutable state holds serving state: everything a component uses while
serving is handed to it by the completed config (ARCHITECTURE.md, "Config objects").

What may live at module level is declarations — constants, and the registries apps fill in
``ready()`` before any server exists (the kind Scheme, admission plugin factories,
authorization modes, post-start hooks).  The checks: no ``global`` rebinding, no lazily built
zero-argument singletons (``lru_cache`` on a function without parameters), and no module or
class attribute that starts as an empty container except the registries named here.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("apiserver", "resources", "rbac", "crds")
ALLOWED = {
    ("apiserver/admission/base.py", "_factories"),     # registry: admission plugin factories
    ("apiserver/server/hooks.py", "_hooks"),           # registry: post-start hooks
    ("apiserver/registry/strategy.py", "selectable_fields"),   # a declaration's default
    # memos over the read-only built-in definitions (package data, never changed)
    ("apiserver/openapi/definitions.py", "_load"),
    ("apiserver/openapi/definitions.py", "_loaded_ids"),
    ("apiserver/openapi/definitions.py", "_resolved"),
    ("apiserver/openapi/definitions.py", "_props"),
    ("apiserver/registry/meta.py", "_last_second"),    # a clock memo: the formatted second
    # compiled CRD schemas, keyed by the identity of the (never edited) schema dict it holds
    ("crds/schema/compiled.py", "_cache"),
}
EMPTY_CALLS = {"list", "dict", "set", "defaultdict", "OrderedDict", "deque"}


def files():
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                  if "migrations" not in p.parts and p.name != "settings.py")


def _empty_container(node) -> bool:
    if isinstance(node, (ast.List, ast.Set)) and not node.elts:
        return True
    if isinstance(node, ast.Dict) and not node.keys:
        return True
    if isinstance(node, ast.Call):
        fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        return fn in EMPTY_CALLS and not node.args
    return False


def problems(path: Path, root: Path = ROOT) -> list[str]:
    rel = str(path.relative_to(root))
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            if not all((rel, n) in ALLOWED for n in node.names):
                out.append(f"{rel}:{node.lineno}: global {', '.join(node.names)}")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node in tree.body:
            cached = any("cache" in ast.unparse(d) for d in node.decorator_list)
            a = node.args
            if cached and not (a.args or a.posonlyargs or a.kwonlyargs or a.vararg) \
                    and (rel, node.name) not in ALLOWED:
                out.append(f"{rel}:{node.lineno}: {node.name}() is a cached singleton")
    scopes = [tree.body] + [n.body for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    for body in scopes:
        for stmt in body:
            targets, value = [], None
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            for target in targets:
                name = getattr(target, "id", None)
                if name and value is not None and _empty_container(value) \
                        and (rel, name) not in ALLOWED:
                    out.append(f"{rel}:{stmt.lineno}: {name} starts as an empty container")
    return out


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_serving_state_at_module_level(path):
    assert problems(path) == []


def test_the_check_finds_what_it_forbids(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import functools\n_current = None\n_cache = {}\n"
                   "class S:\n    listeners: list = []\n"
                   "def set_current(x):\n    global _current\n    _current = x\n"
                   "@functools.lru_cache(maxsize=1)\ndef state():\n    return object()\n")
    found = "\n".join(problems(bad, tmp_path))
    for text in ("global _current", "_cache starts", "listeners starts", "state() is a cached"):
        assert text in found, found
