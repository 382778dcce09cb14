"""The rbac app: registers the rbac.authorization.k8s.io kinds with the Scheme and the RBAC
authorization mode."""
from django.apps import AppConfig

KINDS = ("rbac.roles.RoleStrategy", "rbac.rolebindings.RoleBindingStrategy",
         "rbac.clusterroles.ClusterRoleStrategy",
         "rbac.clusterrolebindings.ClusterRoleBindingStrategy")


class RbacConfig(AppConfig):
    name = "rbac"
    verbose_name = "RBAC"

    def ready(self):
        """Register the four kinds, their relational storage (``rbac.storage``: rows the Django
        admin edits) and the RBAC authorization mode."""
        from django.utils.module_loading import import_string

        from apiserver.authorization.base import register_mode
        from apiserver.runtime.scheme import scheme
        from apiserver.server.hooks import register_post_start
        from apiserver.storage.overrides import registry

        from .storage import RESOURCES, for_default_storage
        for path in KINDS:
            scheme.register(import_string(path))
        registry.register(RESOURCES, for_default_storage)
        # upstream's rbac/bootstrap-roles hook, after the namespaces exist (resources' hooks)
        register_post_start("rbac/bootstrap-roles",
                            import_string("rbac.reconcile.ensure_bootstrap_policy"))
        register_post_start("start-clusterrole-aggregation-controller",
                            import_string("rbac.aggregation.start_aggregation_controller"))
        register_mode("RBAC", import_string("rbac.authorizer.rbac_mode"))   # --authorization-mode RBAC
