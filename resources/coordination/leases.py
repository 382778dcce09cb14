"""coordination.k8s.io/v1 Lease: leader election and node heartbeats.

Upstream: ``pkg/apis/coordination/validation/validation.go`` (``ValidateLeaseSpec``),
``pkg/registry/coordination/lease/strategy.go`` and ``printLease``.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Column, Strategy
from apiserver.runtime import errors
from resources.core.columns import doc

STRATEGIES = ("OldestEmulationVersion",)   # coordination.k8s.io CoordinatedLeaseStrategy values


class LeaseStrategy(Strategy):
    group = "coordination.k8s.io"
    kind = "Lease"
    plural = "leases"
    schema_name = "io.k8s.api.coordination.v1.Lease"
    columns = (NAME_COLUMN,
               Column("Holder", description=doc("io.k8s.api.coordination.v1.LeaseSpec",
                                                "holderIdentity")),
               AGE_COLUMN)

    def validate(self, ctx, obj):
        """``ValidateLeaseSpec``: positive duration, non-negative transitions, and a
        preferred holder only together with a strategy."""
        spec = obj.get("spec") or {}
        errs = []
        duration = spec.get("leaseDurationSeconds")
        if isinstance(duration, int) and duration <= 0:
            errs.append(errors.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if isinstance(transitions, int) and transitions < 0:
            errs.append(errors.invalid("spec.leaseTransitions", transitions,
                                       "must be greater than or equal to 0"))
        strategy = spec.get("strategy")
        if strategy is not None and strategy not in STRATEGIES:
            errs.append(errors.not_supported("spec.strategy", strategy, STRATEGIES))
        if spec.get("preferredHolder") and not strategy:
            errs.append(errors.forbidden("spec.preferredHolder",
                                         "may only be specified if `strategy` is defined"))
        return errs

    def table_row(self, obj):
        return [obj["metadata"]["name"], (obj.get("spec") or {}).get("holderIdentity") or "", age(obj)]
