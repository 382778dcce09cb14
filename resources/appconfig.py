"""The resources app's AppConfig (not apps.py: resources/apps/ is the apps/v1 API group).

Registers every built-in kind, the kind-aware admission plugins, the bootstrap hooks and
the in-process controllers (the namespace controller is the controller manager's:
workers/controllers/namespace.py).
Adding a kind is one module plus one line in its group package's ``KINDS``."""
from django.apps import AppConfig

# group packages, each with a KINDS tuple of Strategy paths
GROUPS = ("resources.core", "resources.apps", "resources.batch", "resources.coordination",
          "resources.events", "resources.scheduling", "resources.discovery",
          "resources.authentication", "resources.authorization", "resources.admissionregistration",
          "resources.autoscaling", "resources.certificates", "resources.flowcontrol",
          "resources.networking", "resources.node", "resources.policy", "resources.storage")


class ResourcesConfig(AppConfig):
    name = "resources"
    verbose_name = "Built-in kinds"

    def ready(self):
        from django.utils.module_loading import import_string

        from apiserver.admission import base as admission
        from apiserver.runtime.scheme import scheme
        from apiserver.server.hooks import register_post_start
        from resources import bootstrap, bootstrap_scheduling
        from resources.admission import PLUGINS

        import importlib
        for group in GROUPS:
            for path in getattr(importlib.import_module(group), "KINDS", ()):
                scheme.register(import_string(path))
        for name, path in PLUGINS.items():
            admission.register(name, import_string(path))
        import_string("resources.authorization.modes.register")()   # ABAC, Node
        register_post_start("bootstrap-namespaces", bootstrap.ensure_system_namespaces)
        register_post_start("bootstrap-kubernetes-service", bootstrap.ensure_kubernetes_service)
        register_post_start("bootstrap-service-accounts", bootstrap.ensure_default_service_accounts)
        register_post_start("bootstrap-priority-classes",
                            bootstrap_scheduling.ensure_system_priority_classes)
        register_post_start("bootstrap-flowcontrol", import_string("resources.flowcontrol.bootstrap.ensure_flowcontrol_objects"))
        register_post_start("start-csrsigning-controller", import_string("resources.controllers.csrsigning.start_csrsigning_controller"))
        register_post_start("start-storage-protection-controller", import_string(
            "resources.controllers.storage_protection.start_storage_protection_controller"))
        register_post_start("start-validatingadmissionpolicy-status-controller", import_string(
            "resources.controllers.validatingadmissionpolicystatus."
            "start_validatingadmissionpolicy_status_controller"))
