"""ResourceQuota admission (upstream plugin/pkg/admission/resourcequota/admission.go and
staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go).

On CREATE (and UPDATE of claims, whose size may grow) every quota of the namespace that
covers the object is checked: a quota without ``status.hard`` refuses ("status unknown"),
a pod lacking a request/limit a quota caps refuses ("must specify"), usage past hard
refuses ("exceeded quota").  When allowed, ``status.used`` is raised with an update
conditional on the quota's resourceVersion; a conflict re-reads and re-checks, so two
concurrent creates can never both take the last slot.  dryRun checks without writing.
"""
from __future__ import annotations

from fractions import Fraction

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.context import system_context
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors
from apiserver.runtime.quantity import DECIMAL_SI, Quantity, parse_quantity
from resources.admission.refusals import new_forbidden
from resources.quota import evaluators

MANAGER = "resourcequota-admission"
RETRIES = 10


def _text(value: Fraction, like: str | None = None) -> str:
    fmt = DECIMAL_SI
    if like:
        try:
            fmt = parse_quantity(like).format
        except ValueError:
            pass
    return str(Quantity(value, fmt))


def _pretty(values: dict, hard: dict) -> str:
    return ",".join(f"{k}={_text(values[k], hard.get(k))}" for k in sorted(values))


class ResourceQuota(Plugin, WantsStores):
    name = "ResourceQuota"
    validating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    def validate(self, attrs):
        if attrs.subresource or not attrs.namespace or not isinstance(attrs.obj, dict):
            return
        if attrs.operation == "UPDATE" and not (
                attrs.group == "" and attrs.resource == "persistentvolumeclaims"):
            return
        store = self.stores.store("", "v1", "resourcequotas")
        if store is None:
            return
        delta = evaluators.usage(attrs.resource, attrs.group, attrs.obj)
        if attrs.operation == "UPDATE" and isinstance(attrs.old, dict):
            old = evaluators.usage(attrs.resource, attrs.group, attrs.old)
            delta = {k: v - old.get(k, Fraction(0)) for k, v in delta.items()}
            delta = {k: v for k, v in delta.items() if v > 0}
        if not delta:
            return
        ctx = system_context(MANAGER, self.stores)
        ctx.subresource = "status"
        for _ in range(RETRIES):
            quotas = [orjson.loads(d) for d in store.list(attrs.namespace)["items"]]
            writes = self._check(attrs, quotas, delta)
            if attrs.dry_run or not writes:
                return
            try:
                for quota, used in writes:
                    self._write(store, quota, used, ctx)
                return
            except errors.Conflict:
                continue          # someone else raised usage: re-read and re-check
        raise errors.Conflict("Operation cannot be fulfilled on resourcequotas: "
                              "the object has been modified; please apply your changes "
                              "to the latest version and try again")

    def _check(self, attrs, quotas, delta) -> list:
        writes = []
        for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
            spec_hard = (quota.get("spec") or {}).get("hard") or {}
            covered = [k for k in delta if k in spec_hard]
            if not covered and not (attrs.resource == "pods" and attrs.group == ""):
                continue
            if not evaluators.quota_matches(quota, attrs.resource, attrs.group, attrs.obj):
                continue
            qname = quota["metadata"]["name"]
            status = quota.get("status") or {}
            hard = status.get("hard")
            if attrs.resource == "pods" and attrs.group == "" and attrs.operation == "CREATE":
                missing = evaluators.missing_constraints(attrs.obj, spec_hard)
                if missing:
                    raise new_forbidden(attrs, f"failed quota: {qname}: must specify "
                                               + "; ".join(missing))
            if not covered:
                continue
            if not hard:
                raise new_forbidden(attrs, f"status unknown for quota: {qname}, resources: "
                                           + ",".join(sorted(covered)))
            used = status.get("used") or {}
            now = {k: evaluators._q(used.get(k, "0")) for k in covered}
            over = [k for k in covered if k in hard
                    and now[k] + delta[k] > evaluators._q(hard[k])]
            if over:
                raise new_forbidden(attrs, "exceeded quota: %s, requested: %s, used: %s, "
                                    "limited: %s" % (
                                        qname, _pretty({k: delta[k] for k in over}, hard),
                                        _pretty({k: now[k] for k in over}, hard),
                                        _pretty({k: evaluators._q(hard[k]) for k in over},
                                                hard)))
            new_used = dict(used)
            for k in covered:
                new_used[k] = _text(now[k] + delta[k], hard.get(k))
            writes.append((quota, new_used))
        return writes

    @staticmethod
    def _write(store, quota, used, ctx) -> None:
        def transform(current):
            current.setdefault("status", {})["used"] = used
            return current
        meta = quota["metadata"]
        store.guaranteed_update(meta["namespace"], meta["name"], transform, ctx,
                                precondition_rv=meta.get("resourceVersion"))
