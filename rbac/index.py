"""The RBAC index: every Role, ClusterRole, RoleBinding and ClusterRoleBinding in memory,
kept current from the storage change log, so authorizing a request reads no database.

Upstream: kubernetes/kubernetes:pkg/registry/rbac/validation/rule.go (``DefaultRuleResolver``:
``VisitRulesFor`` visits the cluster bindings, then the bindings of the request's namespace,
and ``appliesTo`` matches a subject: a User by name, a Group by membership, a ServiceAccount by
its username ``system:serviceaccount:<namespace>:<name>``, the namespace defaulting to the
binding's), fed there by informers (plugin/pkg/auth/authorizer/rbac/rbac.go's listers).

Bindings are indexed by the subject keys they name (``("user", name)`` for Users and for
ServiceAccounts through their username, ``("group", name)``), so a question costs the
bindings of the asking user's name and groups, not all bindings.  Bindings are visited in
name order (upstream's listers have no order; storage's is by name), each with the first of
its subjects that applies, as upstream describes it.

:class:`RBACIndex` follows storage on a daemon thread of its own, started on first use in
each server process: a full list per kind, then ``changes_after`` (woken by local commits,
else every second for other processes' writes; a compaction means a new list).  The thread
gives its database connection back when it ends and survives any error.  ``follow=False``
starts no thread: the owner calls :meth:`sync` (tests inside one transaction, or a one-shot
load).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import orjson
from django.db import close_old_connections, connection

from apiserver.storage.base import Compacted

from .rules import parse_rules

log = logging.getLogger(__name__)

GROUP = "rbac.authorization.k8s.io"
SA_PREFIX = "system:serviceaccount:"
POLL_SECONDS = 1.0       # other processes' writes reach this process within a poll
MIN_INTERVAL = 0.1       # a burst of local commits is applied in one pass (unless awaited)
LOAD_TIMEOUT = 10.0      # how long a first question waits for the first load
WAIT_TIMEOUT = 5.0       # how long wait_until waits for the thread
BATCH = 500

ROLES, CLUSTER_ROLES, BINDINGS, CLUSTER_BINDINGS = "roles", "clusterroles", "rolebindings", \
    "clusterrolebindings"
KINDS = (ROLES, CLUSTER_ROLES, BINDINGS, CLUSTER_BINDINGS)


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class Binding:
    kind: str                 # RoleBinding | ClusterRoleBinding
    namespace: str            # "" for a ClusterRoleBinding
    name: str
    role_kind: str
    role_name: str
    subjects: tuple

    def keys(self) -> set:
        """The subject keys under which this binding is found."""
        keys = set()
        for s in self.subjects:
            if s.kind == "User":
                keys.add(("user", s.name))
            elif s.kind == "Group":
                keys.add(("group", s.name))
            elif s.kind == "ServiceAccount" and (s.namespace or self.namespace):
                keys.add(("user", f"{SA_PREFIX}{s.namespace or self.namespace}:{s.name}"))
        return keys


@dataclass(frozen=True, slots=True)
class Grant:
    """One binding that applies to a user: ``subject`` is the first of its subjects that
    does; ``rules`` the referenced role's, or ``missing`` when that role cannot be resolved
    (``(kind, namespace, name)`` of the absent role; kind is the roleRef's, which may be
    unsupported)."""

    binding: Binding
    subject: Subject
    rules: tuple = ()
    missing: tuple | None = None


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def parse_binding(kind: str, obj: dict) -> Binding:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
    subjects = tuple(Subject(_text(s.get("kind")), _text(s.get("name")), _text(s.get("namespace")))
                     for s in obj.get("subjects") or () if isinstance(s, dict)) \
        if isinstance(obj.get("subjects"), list) else ()
    return Binding(kind, _text(meta.get("namespace")) if kind == "RoleBinding" else "",
                   _text(meta.get("name")), _text(ref.get("kind")), _text(ref.get("name")),
                   subjects)


def user_keys(user) -> list:
    return [("user", getattr(user, "name", "") or "")] + \
        [("group", g) for g in getattr(user, "groups", ()) or ()]


def applies_to(user, subject: Subject, namespace: str) -> bool:
    """Upstream ``appliesToUser``; ``namespace`` is the binding's ("" for cluster bindings)."""
    name = getattr(user, "name", "") or ""
    if subject.kind == "User":
        return name == subject.name
    if subject.kind == "Group":
        return subject.name in (getattr(user, "groups", ()) or ())
    if subject.kind == "ServiceAccount":
        ns = subject.namespace or namespace
        return bool(ns) and name == f"{SA_PREFIX}{ns}:{subject.name}"
    return False


class RBACIndex:
    """The index and the thread that keeps it current."""

    name = "rbac-index"

    def __init__(self, stores, *, follow: bool = True, poll_seconds: float = POLL_SECONDS,
                 load_timeout: float = LOAD_TIMEOUT):
        self.stores = stores
        self.follow = follow
        self.poll_seconds = poll_seconds
        self.load_timeout = load_timeout
        self.lock = threading.Lock()          # guards the tables below
        self.roles: dict = {}                 # (namespace, name) -> rules
        self.cluster_roles: dict = {}         # name -> rules
        self.bindings: dict = {}              # (namespace, name) -> Binding
        self.cluster_bindings: dict = {}      # name -> Binding
        self.binding_keys: dict = {}          # namespace -> subject key -> {names}
        self.cluster_binding_keys: dict = {}  # subject key -> {names}
        self.cursors: dict = {}               # resource -> revision applied up to
        self.applied = 0                      # every commit up to here is in the tables
        self.loaded = threading.Event()
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.urgent = threading.Event()
        self.thread = None
        self._applied_cond = threading.Condition()
        self._start_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._listening: list = []

    # ---- questions (any thread; memory only) -------------------------------------------
    def grants(self, user, namespace: str) -> list[Grant]:
        """The bindings that apply to ``user`` for a request in ``namespace`` (""
        cluster-wide): cluster bindings first, then the namespace's, each in name order."""
        keys = user_keys(user)
        out = []
        with self.lock:
            names = set().union(*(self.cluster_binding_keys.get(k, ()) for k in keys))
            for name in sorted(names):
                out += self._grant(self.cluster_bindings[name], user)
            if namespace:
                index = self.binding_keys.get(namespace, {})
                names = set().union(*(index.get(k, ()) for k in keys))
                for name in sorted(names):
                    out += self._grant(self.bindings[(namespace, name)], user)
        return out

    def _grant(self, binding: Binding, user) -> list[Grant]:
        subject = next((s for s in binding.subjects
                        if applies_to(user, s, binding.namespace)), None)
        if subject is None:
            return []
        rules = self._role_rules(binding.role_kind, binding.namespace, binding.role_name)
        if rules is None:
            return [Grant(binding, subject, missing=(binding.role_kind, binding.namespace,
                                                     binding.role_name))]
        return [Grant(binding, subject, rules)]

    def _role_rules(self, kind: str, namespace: str, name: str):
        if kind == "ClusterRole":
            return self.cluster_roles.get(name)
        if kind == "Role":
            return self.roles.get((namespace, name))
        return None

    def role_rules(self, kind: str, namespace: str, name: str):
        """The rules of the Role (in ``namespace``) or ClusterRole ``name``; None when there
        is no such role or ``kind`` is neither."""
        with self.lock:
            return self._role_rules(kind, namespace, name)

    # ---- changes -----------------------------------------------------------------------
    def apply(self, kind: str, namespace: str, name: str, obj: dict | None) -> None:
        """One object's current state (None: deleted); the caller holds ``lock``."""
        if kind == ROLES:
            self._set(self.roles, (namespace, name), obj and parse_rules(obj.get("rules")))
        elif kind == CLUSTER_ROLES:
            self._set(self.cluster_roles, name, obj and parse_rules(obj.get("rules")))
        elif kind == BINDINGS:
            self._set_binding(self.bindings, (namespace, name),
                              self.binding_keys.setdefault(namespace, {}), name,
                              obj and parse_binding("RoleBinding", obj))
            if not self.binding_keys[namespace]:
                del self.binding_keys[namespace]
        else:
            self._set_binding(self.cluster_bindings, name, self.cluster_binding_keys, name,
                              obj and parse_binding("ClusterRoleBinding", obj))

    @staticmethod
    def _set(table: dict, key, value) -> None:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value

    @staticmethod
    def _set_binding(table: dict, key, index: dict, name: str, binding) -> None:
        old = table.pop(key, None)
        if old is not None:
            for k in old.keys():
                names = index.get(k)
                if names is not None:
                    names.discard(name)
                    if not names:
                        del index[k]
        if binding is not None:
            table[key] = binding
            for k in binding.keys():
                index.setdefault(k, set()).add(name)

    def clear(self, kind: str) -> None:
        if kind == ROLES:
            self.roles.clear()
        elif kind == CLUSTER_ROLES:
            self.cluster_roles.clear()
        elif kind == BINDINGS:
            self.bindings.clear()
            self.binding_keys.clear()
        else:
            self.cluster_bindings.clear()
            self.cluster_binding_keys.clear()

    # ---- following storage -------------------------------------------------------------
    def sync(self) -> int:
        """Apply every change since the last pass (a full list the first time and after a
        compaction); returns how many objects changed."""
        with self._sync_lock:
            sources = self._sources()
            if not sources:
                return 0
            horizon = sources[0][2].current_revision()   # committed: all below is visible
            done = 0
            for kind, resource, storage in sources:
                try:
                    done += self._follow(kind, resource, storage)
                except Compacted:
                    self.cursors.pop(resource, None)
                    done += self._follow(kind, resource, storage)
            with self._applied_cond:
                self.applied = max(self.applied, horizon)
                self._applied_cond.notify_all()
            self.loaded.set()
            return done

    def _follow(self, kind: str, resource: str, storage) -> int:
        cursor = self.cursors.get(resource)
        if cursor is None:
            page = storage.list(resource, None)
            objects = [orjson.loads(doc) for doc in page.items]
            with self.lock:
                self.clear(kind)
                for obj in objects:
                    m = obj.get("metadata") or {}
                    self.apply(kind, m.get("namespace") or "", m.get("name") or "", obj)
            self.cursors[resource] = page.revision
            return len(objects)
        done = 0
        while True:
            batch = storage.changes_after(cursor, BATCH, resource=resource)
            decoded = [(r.namespace, r.name, None if r.type == "DELETED" else orjson.loads(r.doc))
                       for r in batch]
            with self.lock:
                for namespace, name, obj in decoded:
                    self.apply(kind, namespace, name, obj)
            if batch:
                cursor = batch[-1].rv
                self.cursors[resource] = cursor
            done += len(batch)
            if len(batch) < BATCH:
                return done

    def _sources(self) -> list:
        found = []
        for plural in KINDS:
            store = self.stores.store(GROUP, "v1", plural) if self.stores is not None else None
            if store is not None:
                found.append((plural, store.resource, store.storage))
        return found

    # ---- the thread --------------------------------------------------------------------
    def ready(self) -> bool:
        """Whether a question can be answered without waiting (loaded, or not following)."""
        return not self.follow or self.loaded.is_set()

    def ensure_running(self) -> None:
        """Start following on first use; the first caller waits (bounded, once per process)
        for the first load, so a fresh process does not refuse users it has not read yet."""
        if not self.follow or self.loaded.is_set():
            return
        with self._start_lock:
            if self.thread is None and not self.stop.is_set():
                for storage in self._storages():
                    storage.listeners.append(self._on_commit)
                    self._listening.append(storage)
                self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self.thread.start()
        self.loaded.wait(self.load_timeout)

    def wait_until(self, rv: int, timeout: float = WAIT_TIMEOUT) -> bool:
        """Return once every commit up to revision ``rv`` is applied (True), or after
        ``timeout`` (False).  Without a thread the caller syncs inline."""
        if not self.follow:
            self.sync()
            return True
        self.ensure_running()
        deadline = time.monotonic() + timeout
        with self._applied_cond:
            while self.applied < rv:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.urgent.set()
                self.wake.set()
                self._applied_cond.wait(min(remaining, 0.5))
        return True

    def catch_up(self, timeout: float = WAIT_TIMEOUT) -> bool:
        """:meth:`wait_until` the storage's current revision (what has committed so far)."""
        if not self.follow:
            self.sync()
            return True
        sources = self._sources()
        if not sources:
            return True
        return self.wait_until(sources[0][2].current_revision(), timeout)

    def close(self) -> None:
        """Stop following (the thread ends within a poll) and stop hearing of commits."""
        self.stop.set()
        self.wake.set()
        self.urgent.set()
        for storage in self._listening:
            try:
                storage.listeners.remove(self._on_commit)
            except ValueError:
                pass
        self._listening.clear()

    def _on_commit(self, rv: int) -> None:       # any thread; must not block
        self.wake.set()

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    self.sync()
                except Exception as exc:          # the next pass tries again; never die
                    log.error("%s: %s: %s", self.name, type(exc).__name__, exc)
                finally:
                    close_old_connections()
                self.wake.wait(self.poll_seconds)
                self.wake.clear()
                # coalesce a burst of commits into one pass, unless someone awaits it
                self.urgent.wait(MIN_INTERVAL)
                self.urgent.clear()
        finally:
            connection.close()                     # this thread ends: give its connection back

    def _storages(self) -> list:
        unique = {}
        for _, _, storage in self._sources():
            unique.setdefault(id(storage.listeners), storage)
        return list(unique.values())
