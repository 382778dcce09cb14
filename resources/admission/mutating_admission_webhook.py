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
from apiserver.registry.initializer import WantsStores


class MutatingAdmissionWebhook(Plugin, WantsStores):
    name = "MutatingAdmissionWebhook"
    mutating = True
    stores = None
    configs = None
    pool = None

    def set_stores(self, stores) -> None:
        self.stores = stores
        self.configs = webhook.configurations(stores)
        self.pool = webhook_client.ConnectionPool()

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE", "DELETE", "CONNECT")

    def admit(self, attrs) -> None:
        hooks = [h for h in webhook.hooks_of(self.configs, "mutatingwebhookconfigurations")
                 if webhook.matches(h, attrs, self.stores)]
        ran_before_change: list[dict] = []
        ran: list[dict] = []
        for hook in hooks:
            changed = webhook.invoke(hook, attrs, self.stores, mutate=attrs.obj is not None,
                           pool=self.pool)
            if changed:
                ran_before_change = list(ran)
            ran.append(hook)
        again = [h for h in ran_before_change if h.get("reinvocationPolicy") == "IfNeeded"]
        for hook in again:
            webhook.invoke(hook, attrs, self.stores, mutate=attrs.obj is not None,
                           pool=self.pool)
