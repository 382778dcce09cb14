"""core/v1 ServiceAccount (``kubectl get sa``).

Upstream: ``pkg/registry/core/serviceaccount/strategy.go`` (nothing to prepare) and
``printServiceAccount`` (SECRETS counts ``.secrets``).  The ``default`` ServiceAccount
of each namespace is upstream's serviceaccounts-controller's job; here the bootstrap hook
creates it in the system namespaces only (see ``resources.bootstrap``).
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import Strategy

from .columns import column

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class ServiceAccountStrategy(Strategy):
    kind = "ServiceAccount"
    plural = "serviceaccounts"
    return_deleted_object = True      # upstream ReturnDeletedObject
    short_names = ("sa",)
    schema_name = "io.k8s.api.core.v1.ServiceAccount"
    columns = (column("Name", _META, "name", format="name"),
               column("Secrets", "ServiceAccount", "secrets"),
               column("Age", _META, "creationTimestamp"))

    def table_row(self, obj):
        return [obj["metadata"].get("name", ""), len(obj.get("secrets") or []), age(obj)]
