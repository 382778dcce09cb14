"""MutatingAdmissionWebhook (upstream k8s.io/apiserver pkg/admission/plugin/webhook/mutating/).

Mutating phase: every matching webhook of every MutatingWebhookConfiguration runs in order
of configuration name; a JSONPatch answer changes the object.  A webhook with
``reinvocationPolicy: IfNeeded`` runs once more when a later webhook changed the object
(upstream reinvocation.go).  The configurations are read from memory (webhook_dispatch.configurations), kept current from the change log.
"""
from __future__ import annotations

from apiserver import webhook_client
from resources.admission import webhook_dispatch as webhook
from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsAuthorizer, WantsStores


class MutatingAdmissionWebhook(Plugin, WantsStores, WantsAuthorizer):
    name = "MutatingAdmissionWebhook"
    mutating = True
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

    def admit(self, attrs) -> None:
        # each webhook with what it matched (upstream WebhookInvocation), decided once
        calls = []
        for hook in webhook.hooks_of(self.configs, "mutatingwebhookconfigurations"):
            match = webhook.matches(hook, attrs, self.stores, self.authorizer)
            if match is not None:
                calls.append((hook, match))
        ran_before_change: list = []
        ran: list = []
        for hook, match in calls:
            changed = webhook.invoke(hook, attrs, self.stores, mutate=attrs.obj is not None,
                                     pool=self.pool, match=match)
            if changed:
                ran_before_change = list(ran)
            ran.append((hook, match))
        for hook, match in ran_before_change:
            if hook.get("reinvocationPolicy") == "IfNeeded":
                webhook.invoke(hook, attrs, self.stores, mutate=attrs.obj is not None,
                               pool=self.pool, match=match)
