"""core/v1 ServiceAccount (``kubectl get sa``).

Upstream: ``pkg/registry/core/serviceaccount/strategy.go`` (nothing to prepare) and
``printServiceAccount`` (SECRETS counts ``.secrets``).  The ``default`` ServiceAccount
of each namespace is upstream's serviceaccounts-controller's job; here the bootstrap hook
creates it in the system namespaces only (see ``resources.bootstrap``).

``serviceaccounts/token`` (POST a TokenRequest, get a signed bound token) is handled in
``resources.core.serviceaccount_token``.
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.strategy import Strategy

from . import serviceaccount_token
from .columns import column

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class ServiceAccountStrategy(Strategy):
    kind = "ServiceAccount"
    plural = "serviceaccounts"
    return_deleted_object = True      # upstream ReturnDeletedObject
    short_names = ("sa",)
    subresources = ("token",)
    subresource_kinds = {"token": (serviceaccount_token.GROUP, serviceaccount_token.VERSION,
                                   serviceaccount_token.KIND, ["create"])}
    schema_name = "io.k8s.api.core.v1.ServiceAccount"
    columns = (column("Name", _META, "name", format="name"),
               column("Secrets", "ServiceAccount", "secrets"),
               column("Age", _META, "creationTimestamp"))

    def table_row(self, obj):
        return [obj["metadata"].get("name", ""), len(obj.get("secrets") or []), age(obj)]

    def create_subresource(self, store, namespace, name, subresource, body, ctx):
        """POST ``serviceaccounts/<name>/token``: a TokenRequest answered with a bound token."""
        if subresource != "token":
            return super().create_subresource(store, namespace, name, subresource, body, ctx)
        return serviceaccount_token.create_token(store, namespace, name, body)
