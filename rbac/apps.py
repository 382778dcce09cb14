"""The rbac app: registers the rbac.authorization.k8s.io kinds with the Scheme."""
from django.apps import AppConfig

KINDS = ("rbac.roles.RoleStrategy", "rbac.rolebindings.RoleBindingStrategy",
         "rbac.clusterroles.ClusterRoleStrategy",
         "rbac.clusterrolebindings.ClusterRoleBindingStrategy")


class RbacConfig(AppConfig):
    name = "rbac"
    verbose_name = "RBAC"

    def ready(self):
        """Register the four kinds (document-store backed until the RBAC issue)."""
        from django.utils.module_loading import import_string

        from apiserver.runtime.scheme import scheme
        for path in KINDS:
            scheme.register(import_string(path))
