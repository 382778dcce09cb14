from django.apps import AppConfig


class CrdsConfig(AppConfig):
    name = "crds"
    verbose_name = "Custom resources"

    # ---- the CustomResourceDefinition kind and its controllers -------------------------
    @staticmethod
    def _register_definitions():
        """apiextensions.k8s.io/v1 CustomResourceDefinition (crds/customresourcedefinitions.py)
        and upstream's naming, establishing and finalizer controllers (crds/controllers.py)."""
        from django.utils.module_loading import import_string

        from apiserver.runtime.scheme import scheme
        from apiserver.server.hooks import register_post_start

        scheme.register(import_string(
            "crds.customresourcedefinitions.CustomResourceDefinitionStrategy"))
        register_post_start("start-apiextensions-controllers",
                            import_string("crds.controllers.start_controllers"))

    # ---- custom resource serving (crds/serving.py) --------------------------------------
    # Each APIExtensionsServer follows the CustomResourceDefinitions and serves their custom
    # resources; a source, not a post-start hook, because every server process needs one
    # (post-start hooks run once, in the supervisor under --server-processes).
    def ready(self):
        super().ready()
        self._register_definitions()
        self._register_serving()

    @staticmethod
    def _register_serving():
        from apiserver.runtime.scheme import scheme

        from .serving import SERVER_NAME, source
        scheme.register_source(SERVER_NAME, source)
