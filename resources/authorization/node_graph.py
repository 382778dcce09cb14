"""The Node authorizer's graph: which objects each node may reach through the pods bound to
it, kept in memory and current from the change log of pods, PersistentVolumes and
VolumeAttachments.

Upstream: kubernetes/kubernetes:plugin/pkg/auth/authorizer/node/graph.go (the edges),
graph_populator.go (fed by informers), pkg/api/v1/pod/util.go ``VisitPodSecretNames`` /
``VisitPodConfigmapNames`` and pkg/api/v1/persistentvolume/util.go ``VisitPVSecretNames``.
Edges point towards nodes::

    node <- pod <- secret | configmap | pvc | serviceaccount | resourceclaim
                   pvc <- pv <- secret (the PV's kubelet-visible secrets)
    node <- volumeattachment

A mirror pod (annotation ``kubernetes.io/config.mirror``) reaches its node and nothing else:
a node must never grant itself access by creating a pod.  A pod without ``spec.nodeName``
is not in the graph; one that loses it, or is deleted, leaves it with its edges.

Instead of upstream's vertex graph the index keeps, per referenced object, how many pods of
each node reference it, so every question is a few dictionary look-ups under a lock that
writers hold only while applying already-decoded changes.

:class:`NodeGraph` is a :class:`~resources.controllers.base.PollingController`: its thread
lists the three kinds once, then applies ``changes_after`` (woken by local commits, else
every second); after a compaction it lists again.  It starts on the first question in each
process, which waits (once, bounded) for the first load; it never reads storage on the
asking thread.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter

import orjson

from apiserver.authorization.node import (CONFIGMAP, POD, PV, PVC, RESOURCE_CLAIM, SECRET,
                                          SERVICE_ACCOUNT, VOLUME_ATTACHMENT)
from apiserver.storage.base import Compacted
from resources.controllers.base import POLL_SECONDS, PollingController

log = logging.getLogger(__name__)

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
LOAD_TIMEOUT = 10.0          # how long the first question waits for the first load
BATCH = 500

# (kind, group, version, plural) the graph follows
SOURCES = (("pods", "", "v1", "pods"), ("pvs", "", "v1", "persistentvolumes"),
           ("attachments", "storage.k8s.io", "v1", "volumeattachments"))


# ---------------------------------------------------------------- references

def _dicts(value) -> list:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _name(ref) -> str:
    return ref.get("name") or "" if isinstance(ref, dict) else ""


def _containers(spec: dict) -> list:
    return (_dicts(spec.get("initContainers")) + _dicts(spec.get("containers"))
            + _dicts(spec.get("ephemeralContainers")))


def _volumes(spec: dict) -> list:
    return _dicts(spec.get("volumes"))


def _projected(volume: dict, source: str) -> list:
    return [_name(s.get(source)) for s in _dicts((volume.get("projected") or {}).get("sources"))
            if isinstance(s.get(source), dict)]


def _env_refs(container: dict, env_from_key: str, value_from_key: str) -> list:
    names = [_name(e.get(env_from_key)) for e in _dicts(container.get("envFrom"))
             if isinstance(e.get(env_from_key), dict)]
    names += [_name((e.get("valueFrom") or {}).get(value_from_key))
              for e in _dicts(container.get("env"))
              if isinstance((e.get("valueFrom") or {}).get(value_from_key), dict)]
    return names


# volume sources whose secretRef names a secret in the pod's namespace
_SECRET_REF_VOLUMES = ("cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos")


def pod_secret_names(pod: dict) -> list[str]:
    """Secrets the pod spec names (image pull secrets, env, volumes), without repeats or
    empty names (upstream ``VisitPodSecretNames``)."""
    spec = pod.get("spec") or {}
    names = [_name(r) for r in _dicts(spec.get("imagePullSecrets"))]
    for c in _containers(spec):
        names += _env_refs(c, "secretRef", "secretKeyRef")
    for v in _volumes(spec):
        if isinstance(v.get("azureFile"), dict):
            names.append(v["azureFile"].get("secretName") or "")
        for key in _SECRET_REF_VOLUMES:
            if isinstance(v.get(key), dict):
                names.append(_name(v[key].get("secretRef")))
        if isinstance(v.get("secret"), dict):
            names.append(v["secret"].get("secretName") or "")
        if isinstance(v.get("csi"), dict):
            names.append(_name(v["csi"].get("nodePublishSecretRef")))
        names += _projected(v, "secret")
    return _unique(names)


def pod_configmap_names(pod: dict) -> list[str]:
    """ConfigMaps the pod spec names (env, configMap and projected volumes)."""
    spec = pod.get("spec") or {}
    names = []
    for c in _containers(spec):
        names += _env_refs(c, "configMapRef", "configMapKeyRef")
    for v in _volumes(spec):
        if isinstance(v.get("configMap"), dict):
            names.append(_name(v["configMap"]))
        names += _projected(v, "configMap")
    return _unique(names)


def pod_claim_names(pod: dict) -> list[str]:
    """PVCs the pod mounts: ``persistentVolumeClaim`` volumes and the claim of each generic
    ephemeral volume (``<pod>-<volume>``, upstream ``ephemeral.VolumeClaimName``)."""
    names = []
    for v in _volumes(pod.get("spec") or {}):
        if isinstance(v.get("persistentVolumeClaim"), dict):
            names.append(v["persistentVolumeClaim"].get("claimName") or "")
        elif isinstance(v.get("ephemeral"), dict):
            names.append(f"{pod['metadata'].get('name', '')}-{v.get('name', '')}")
    return _unique(names)


def pod_resource_claim_names(pod: dict) -> list[str]:
    """ResourceClaims the pod uses: named ones, and those generated from templates once the
    status records their names."""
    names = [c.get("resourceClaimName") or "" for c in _dicts((pod.get("spec") or {}).get(
        "resourceClaims"))]
    names += [c.get("resourceClaimName") or "" for c in _dicts((pod.get("status") or {}).get(
        "resourceClaimStatuses"))]
    return _unique(names)


# PV sources whose secret the kubelet reads (upstream VisitPVSecretNames' kubeletVisible)
_PV_SECRET_REFS = (("cephfs", "secretRef"), ("cinder", "secretRef"),
                   ("flexVolume", "secretRef"), ("rbd", "secretRef"), ("scaleIO", "secretRef"),
                   ("iscsi", "secretRef"), ("storageos", "secretRef"),
                   ("csi", "nodePublishSecretRef"), ("csi", "nodeStageSecretRef"),
                   ("csi", "nodeExpandSecretRef"))


def pv_secret_refs(pv: dict) -> list[tuple[str, str]]:
    """(namespace, name) of the secrets a bound PV hands the kubelet; a reference without a
    namespace means the claim's."""
    spec = pv.get("spec") or {}
    claim_ns = (spec.get("claimRef") or {}).get("namespace") or ""
    refs = []
    azure = spec.get("azureFile")
    if isinstance(azure, dict) and azure.get("secretName"):
        refs.append((azure.get("secretNamespace") or claim_ns, azure["secretName"]))
    for source, key in _PV_SECRET_REFS:
        ref = (spec.get(source) or {}).get(key) if isinstance(spec.get(source), dict) else None
        if isinstance(ref, dict) and ref.get("name"):
            refs.append((ref.get("namespace") or claim_ns, ref["name"]))
    return list(dict.fromkeys(refs))


def _unique(names) -> list[str]:
    return [n for n in dict.fromkeys(names) if n]


# ---------------------------------------------------------------- the index

class GraphIndex:
    """Who reaches what.  ``pods``: (ns, name) → (node, refs); ``reach``: (type, ns, name) →
    Counter of nodes (one count per pod); ``pvs``: name → (claim key, secret keys);
    ``pv_secrets``: secret key → PV names; ``attachments``: name → node."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pods: dict = {}
        self.reach: dict = {}
        self.pvs: dict = {}
        self.pv_secrets: dict = {}
        self.attachments: dict = {}

    # -- questions (any thread) ------------------------------------------------------------
    def has_path(self, node: str, vertex_type: str, namespace: str, name: str) -> bool:
        with self.lock:
            if vertex_type == POD:
                entry = self.pods.get((namespace, name))
                return entry is not None and entry[0] == node
            if vertex_type == VOLUME_ATTACHMENT:
                return self.attachments.get(name) == node
            if vertex_type == PV:
                return self._pv_reaches(name, node)
            key = (vertex_type, namespace, name)
            if self.reach.get(key, {}).get(node):
                return True
            if vertex_type == SECRET:
                return any(self._pv_reaches(pv, node)
                           for pv in self.pv_secrets.get((namespace, name), ()))
            return False

    def _pv_reaches(self, pv: str, node: str) -> bool:
        entry = self.pvs.get(pv)
        return entry is not None and bool(self.reach.get((PVC, *entry[0]), {}).get(node))

    # -- changes (the populator) -----------------------------------------------------------
    def set_pod(self, namespace: str, name: str, pod: dict | None) -> None:
        """The pod's current state (None: deleted)."""
        key = (namespace, name)
        old = self.pods.pop(key, None)
        if old is not None:
            for ref in old[1]:
                counts = self.reach.get(ref)
                if counts is not None:
                    counts[old[0]] -= 1
                    if counts[old[0]] <= 0:
                        del counts[old[0]]
                    if not counts:
                        del self.reach[ref]
        node = ((pod or {}).get("spec") or {}).get("nodeName") or ""
        if not node:
            return
        refs = ()
        if MIRROR_ANNOTATION not in ((pod.get("metadata") or {}).get("annotations") or {}):
            refs = _pod_refs(namespace, pod)
        self.pods[key] = (node, refs)
        for ref in refs:
            self.reach.setdefault(ref, Counter())[node] += 1

    def set_pv(self, name: str, pv: dict | None) -> None:
        old = self.pvs.pop(name, None)
        if old is not None:
            for secret in old[1]:
                holders = self.pv_secrets.get(secret)
                if holders is not None:
                    holders.discard(name)
                    if not holders:
                        del self.pv_secrets[secret]
        claim = ((pv or {}).get("spec") or {}).get("claimRef")
        if not isinstance(claim, dict) or not claim.get("name"):
            return
        secrets = tuple(pv_secret_refs(pv))
        self.pvs[name] = ((claim.get("namespace") or "", claim["name"]), secrets)
        for secret in secrets:
            self.pv_secrets.setdefault(secret, set()).add(name)

    def set_attachment(self, name: str, attachment: dict | None) -> None:
        node = ((attachment or {}).get("spec") or {}).get("nodeName") or ""
        if node:
            self.attachments[name] = node
        else:
            self.attachments.pop(name, None)

    def clear(self, kind: str) -> None:
        if kind == "pods":
            self.pods.clear()
            self.reach.clear()
        elif kind == "pvs":
            self.pvs.clear()
            self.pv_secrets.clear()
        else:
            self.attachments.clear()

    def apply(self, kind: str, namespace: str, name: str, obj: dict | None) -> None:
        """One object's current state (None: deleted); the caller holds ``lock``."""
        if kind == "pods":
            self.set_pod(namespace, name, obj)
        elif kind == "pvs":
            self.set_pv(name, obj)
        else:
            self.set_attachment(name, obj)


def _pod_refs(namespace: str, pod: dict) -> tuple:
    refs = [(SECRET, namespace, n) for n in pod_secret_names(pod)]
    refs += [(CONFIGMAP, namespace, n) for n in pod_configmap_names(pod)]
    refs += [(PVC, namespace, n) for n in pod_claim_names(pod)]
    refs += [(RESOURCE_CLAIM, namespace, n) for n in pod_resource_claim_names(pod)]
    sa = (pod.get("spec") or {}).get("serviceAccountName") or ""
    if sa:
        refs.append((SERVICE_ACCOUNT, namespace, sa))
    return tuple(refs)


# ---------------------------------------------------------------- the populator

class NodeGraph(PollingController):
    """The index plus the thread that keeps it current.  ``follow=False`` starts no thread:
    the owner calls :meth:`sync` (tests that run in one transaction)."""

    name = "node-authorizer-graph"

    def __init__(self, stores, *, follow: bool = True, poll_seconds: float = POLL_SECONDS,
                 load_timeout: float = LOAD_TIMEOUT):
        super().__init__(poll_seconds=poll_seconds)
        self.stores = stores
        self.follow = follow
        self.load_timeout = load_timeout
        self.index = GraphIndex()
        self.cursors: dict = {}                 # resource -> revision applied up to
        self.loaded = threading.Event()
        self.stop = threading.Event()
        self.thread = None
        self._start_lock = threading.Lock()

    # -- the authorizer's question ---------------------------------------------------------
    def has_path(self, node: str, vertex_type: str, namespace: str, name: str) -> bool:
        self.ensure_running()
        return self.index.has_path(node, vertex_type, namespace, name)

    def ensure_running(self) -> None:
        """Start following on first use; the first caller waits for the first load (in this
        process only once), so a fresh process does not refuse kubelets it knows nothing of
        yet."""
        if self.loaded.is_set() or not self.follow:
            return
        with self._start_lock:
            if self.thread is None:
                self.thread = self.start(self.stop, self._storages())
        self.loaded.wait(self.load_timeout)

    def close(self) -> None:
        """Stop following (the thread ends within a poll)."""
        self.stop.set()
        self.wake.set()

    # -- PollingController ----------------------------------------------------------------
    def sync(self) -> int:
        """Apply every change since the last pass (a full list the first time and after a
        compaction); returns how many objects changed."""
        done = 0
        for kind, resource, storage in self._sources():
            try:
                done += self._follow(kind, resource, storage)
            except Compacted:
                self.cursors.pop(resource, None)
                done += self._follow(kind, resource, storage)
        self.loaded.set()
        return done

    def _follow(self, kind: str, resource: str, storage) -> int:
        cursor = self.cursors.get(resource)
        if cursor is None:
            page = storage.list(resource, None)
            objects = [orjson.loads(doc) for doc in page.items]
            with self.index.lock:
                self.index.clear(kind)
                for obj in objects:
                    m = obj.get("metadata") or {}
                    self.index.apply(kind, m.get("namespace") or "", m.get("name") or "", obj)
            self.cursors[resource] = page.revision
            return len(objects)
        done = 0
        while True:
            batch = storage.changes_after(cursor, BATCH, resource=resource)
            decoded = [(r.namespace, r.name, None if r.type == "DELETED" else orjson.loads(r.doc))
                       for r in batch]
            with self.index.lock:
                for namespace, name, obj in decoded:
                    self.index.apply(kind, namespace, name, obj)
            if batch:
                cursor = batch[-1].rv
                self.cursors[resource] = cursor
            done += len(batch)
            if len(batch) < BATCH:
                return done

    def _sources(self) -> list:
        found = []
        for kind, group, version, plural in SOURCES:
            store = self.stores.store(group, version, plural)
            if store is not None:
                found.append((kind, store.resource, store.storage))
        return found

    def _storages(self) -> list:
        unique = {}
        for _, _, storage in self._sources():
            unique.setdefault(id(storage.listeners), storage)
        return list(unique.values())
