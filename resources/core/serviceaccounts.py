"""core/v1 ServiceAccount (``kubectl get sa``).

Upstream: ``pkg/registry/core/serviceaccount/strategy.go`` (nothing to prepare) and
``printServiceAccount`` (SECRETS counts ``.secrets``).  The ``default`` ServiceAccount
of each namespace is upstream's serviceaccounts-controller's job; here the bootstrap hook
creates it in the system namespaces only (see ``resources.bootstrap``).

``serviceaccounts/token`` (POST a TokenRequest, get a signed bound token) is the declared
:class:`TokenSubresource`; its work is in ``resources.core.serviceaccount_token``.  The
server hands it the token issuer when it installs the kind (``WantsTokenIssuer``).
"""
from __future__ import annotations

from apiserver.registry.printers import age
from apiserver.registry.initializer import WantsTokenIssuer
from apiserver.registry.strategy import Strategy, Subresource

from . import serviceaccount_token
from .columns import column

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class TokenSubresource(Subresource):
    """``serviceaccounts/<name>/token`` (upstream TokenREST, kubernetes/kubernetes:
    pkg/registry/core/serviceaccount/storage/token.go)."""

    def create(self, ctx, store, namespace, name, body):
        """POST a TokenRequest: 201 with a token signed by the strategy's issuer."""
        return serviceaccount_token.create_token(store.strategy.token_issuer, store, namespace,
                                                 name, body)


TOKEN = TokenSubresource("token", verbs=("create",),
                         kind=(serviceaccount_token.GROUP, serviceaccount_token.VERSION,
                               serviceaccount_token.KIND))


class ServiceAccountStrategy(Strategy, WantsTokenIssuer):
    kind = "ServiceAccount"
    plural = "serviceaccounts"
    return_deleted_object = True      # upstream ReturnDeletedObject
    short_names = ("sa",)
    subresources = (TOKEN,)
    token_issuer = None
    schema_name = "io.k8s.api.core.v1.ServiceAccount"
    columns = (column("Name", _META, "name", format="name"),
               column("Secrets", "ServiceAccount", "secrets"),
               column("Age", _META, "creationTimestamp"))

    def table_row(self, obj):
        return [obj["metadata"].get("name", ""), len(obj.get("secrets") or []), age(obj)]

    def set_token_issuer(self, issuer) -> None:
        self.token_issuer = issuer
