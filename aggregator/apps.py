"""The aggregator app: registers APIService with the Scheme and the autoregistration hook."""
from django.apps import AppConfig


class AggregatorConfig(AppConfig):
    name = "aggregator"
    verbose_name = "API aggregation"

    def ready(self):
        """APIService (the chain routes its group to the AggregatorServer) and upstream's
        kube-apiserver-autoregistration post-start hook."""
        from django.utils.module_loading import import_string

        from apiserver.runtime.scheme import scheme
        from apiserver.server.hooks import register_post_start

        scheme.register(import_string("aggregator.apiservices.APIServiceStrategy"))
        register_post_start("kube-apiserver-autoregistration",
                            import_string("aggregator.autoregister.start_autoregistration"))
