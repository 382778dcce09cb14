"""Imports point one way (ARCHITECTURE.md, "Layers").

* Apps (rbac, resources, crds, workers) depend on apiserver, never the reverse.
* ``apiserver.client`` and workers import no Django, storage or kind modules; workers import
  only ``apiserver.client``, the standard library and themselves (their management commands
  also Django's management base, ``workers/apps.py`` Django's AppConfig).
* Inside apiserver, each package sits in a layer and imports only from its own layer or
  below; every import counts — module level, function-local and relative ones.
* No import cycle between apiserver modules, hidden in a function or not.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("rbac", "resources", "crds", "workers")

# apiserver's layers, lowest first; ARCHITECTURE.md draws the same order.
LAYERS = (
    ("runtime",),
    ("openapi", "fieldmanager", "authentication", "authorization", "options", "pki", "cel",
     "pki_front_proxy", "webhook_client"),
    ("storage", "admission"),
    ("registry",),
    ("endpoints",),
    ("filters",),
    ("server",),
    ("management", "urls", "settings", "asgi", "apps", "models", "migrations"),
)
LAYER_OF = {pkg: i for i, names in enumerate(LAYERS) for pkg in names}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` imports, anywhere in it, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            # ``from pkg import mod`` imports pkg.mod when that is a module
            for alias in node.names:
                candidate = f"{prefix}.{alias.name}"
                if (root / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                        (root / Path(*candidate.split(".")) / "__init__.py").exists():
                    found.add(candidate)
    return found


def python_files(package: str):
    base = ROOT / package
    return sorted(base.rglob("*.py")) if base.exists() else []


def layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "apiserver" or len(parts) < 2:
        return None
    return LAYER_OF.get(parts[1])


def test_there_is_code_to_check():
    assert python_files("apiserver"), "the apiserver package must exist"


def test_every_apiserver_package_has_a_layer():
    packages = {p.relative_to(ROOT / "apiserver").parts[0].removesuffix(".py")
                for p in python_files("apiserver")} - {"__init__", "client"}
    assert not packages - set(LAYER_OF), sorted(packages - set(LAYER_OF))


@pytest.mark.parametrize("path", python_files("apiserver"), ids=lambda p: str(p.relative_to(ROOT)))
def test_apiserver_imports_no_app(path):
    bad = {m for m in imported_modules(path) if m.split(".")[0] in APPS}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", [p for p in python_files("apiserver")
                                  if "client" not in p.relative_to(ROOT).parts],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_apiserver_imports_only_its_own_layer_or_below(path):
    mine = layer(module_name(path))
    upward = sorted(m for m in imported_modules(path)
                    if layer(m) is not None and mine is not None and layer(m) > mine)
    assert not upward, f"{module_name(path)} (layer {mine}) imports upward: {upward}"


CLIENT_FORBIDDEN = ("django", "rest_framework", "channels", "apiserver.storage",
                    "apiserver.registry", "resources", "rbac", "crds")


@pytest.mark.parametrize("path", python_files("apiserver/client"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_client_stays_a_client(path):
    mods = imported_modules(path)
    bad = {m for m in mods if any(m == f or m.startswith(f + ".") for f in CLIENT_FORBIDDEN)}
    bad |= {m for m in mods if m.startswith("apiserver") and not m.startswith("apiserver.client")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def _within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def client_third_party() -> set[str]:
    """The third-party packages ``apiserver.client`` itself is built on (orjson, websockets,
    PyYAML): a worker may use those too, since it cannot run without them anyway."""
    import sys

    return {m.split(".")[0] for p in python_files("apiserver/client") for m in imported_modules(p)
            if m and m.split(".")[0] not in sys.stdlib_module_names
            and m.split(".")[0] not in ("apiserver", "__future__")}


def worker_import_violations(path: Path, root: Path = ROOT) -> list[str]:
    """Workers are API clients: they may import ``apiserver.client`` (and the third-party
    packages it is built on), the standard library and ``workers`` itself;
    ``workers/management/`` may also import Django's management base (its commands are thin
    shells) and ``workers/apps.py`` Django's AppConfig."""
    import sys

    rel = path.relative_to(root).parts
    allowed = ["apiserver.client", "workers", *sorted(client_third_party())]
    if rel[:2] == ("workers", "management"):
        allowed.append("django.core.management")
    if rel == ("workers", "apps.py"):
        allowed.append("django.apps")
    if rel == ("workers", "controllers", "cronjob_util.py"):
        allowed.append("croniter")     # cron schedule math: a pure library, no server code
    if rel[:2] == ("workers", "serving"):
        # the HTTPS servers of the kubelet and the metrics server: a server library and
        # X.509 parsing (certificate issuers, self-signed pairs), no server code of ours
        allowed += ["uvicorn", "cryptography"]
    return sorted(m for m in imported_modules(path, root)
                  if m and m.split(".")[0] not in sys.stdlib_module_names
                  and m != "__future__" and not _within(m, allowed))


@pytest.mark.parametrize("path", python_files("workers"), ids=lambda p: str(p.relative_to(ROOT)))
def test_workers_stay_clients(path):
    bad = worker_import_violations(path)
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_worker_rule_catches_a_violation(tmp_path):
    """The ORM, storage, kinds and Django outside the management shell are all refused."""
    (tmp_path / "workers" / "kubelet").mkdir(parents=True)
    (tmp_path / "workers" / "management" / "commands").mkdir(parents=True)
    bad = tmp_path / "workers" / "kubelet" / "bad.py"
    bad.write_text("import asyncio\nfrom apiserver.client import AsyncClient\n"
                   "from django.db import models\nimport apiserver.storage.sql\n"
                   "def f():\n    from resources.core import pods\n"
                   "    from django.core.management.base import BaseCommand\n")
    assert worker_import_violations(bad, tmp_path) == [
        "apiserver.storage.sql", "django.core.management.base", "django.db", "resources.core"]
    cmd = tmp_path / "workers" / "management" / "commands" / "x.py"
    cmd.write_text("from django.core.management.base import BaseCommand\n"
                   "from django.db import connection\n")
    assert worker_import_violations(cmd, tmp_path) == ["django.db"]


def import_graph(packages=("apiserver", "resources", "rbac", "crds")) -> dict[str, set[str]]:
    modules = {module_name(p): p for pkg in packages for p in python_files(pkg)}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in imported_modules(path) if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    # a package's __init__ re-exporting its own modules is not a cycle between ideas
    graph = {m: {d for d in deps if not (m.startswith(d + ".") and d.count(".") >= 1)}
             for m, deps in import_graph().items()}
    assert cycles(graph) == []


def test_layering_check_catches_a_violation(tmp_path):
    """Upward imports are found wherever they hide: relative, function-local, app imports."""
    (tmp_path / "apiserver" / "registry").mkdir(parents=True)
    (tmp_path / "apiserver" / "server").mkdir()
    (tmp_path / "apiserver" / "server" / "chain.py").write_text("")
    bad = tmp_path / "apiserver" / "registry" / "bad.py"
    bad.write_text("from resources.core import KINDS\nfrom ..server import chain\n"
                   "def f():\n    from apiserver.server import lifecycle\n")
    found = imported_modules(bad, tmp_path)
    assert {"resources.core", "apiserver.server", "apiserver.server.chain"} <= found
    mine = layer(module_name(bad, tmp_path))
    assert sorted(m for m in found if (layer(m) or 0) > mine) == [
        "apiserver.server", "apiserver.server.chain"]


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
