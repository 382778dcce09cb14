"""ValidatingAdmissionWebhook (upstream k8s.io/apiserver pkg/admission/plugin/webhook/validating/).

Validating phase (in the Store, after schema validation and the mutating webhooks): every
matching webhook of every ValidatingWebhookConfiguration is called; any refusal refuses
the request.  Upstream calls them in parallel; here they run in order of name.
"""
from __future__ import annotations

from apiserver import webhook_client
from resources.admission import webhook_dispatch as webhook
from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsAuthorizer, WantsStores


class ValidatingAdmissionWebhook(Plugin, WantsStores, WantsAuthorizer):
    name = "ValidatingAdmissionWebhook"
    validating = True
    stores = None
    configs = None
    pool = None
    authorizer = None           # matchConditions' ``authorizer`` variable

    def set_authorizer(self, authorizer) -> None:
        self.authorizer = authorizer

    def set_stores(self, stores) -> None:
        self.stores = stores
        self.configs = webhook.configurations(stores)
        self.pool = webhook_client.ConnectionPool()

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE", "DELETE", "CONNECT")

    def validate(self, attrs) -> None:
        for hook in webhook.hooks_of(self.configs, "validatingwebhookconfigurations"):
            match = webhook.matches(hook, attrs, self.stores, self.authorizer)
            if match is not None:
                webhook.invoke(hook, attrs, self.stores, mutate=False, pool=self.pool,
                               match=match)
