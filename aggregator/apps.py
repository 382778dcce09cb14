"""The aggregator app: registers APIService with the Scheme and the autoregistration hook."""
from django.apps import AppConfig


class AggregatorConfig(AppConfig):
    name = "aggregator"
    verbose_name = "API aggregation"

    def ready(self):
        """APIService (the chain routes its group to the AggregatorServer), the proxies to
        service-backed APIServices (a source of the AggregatorServer), and upstream's
        kube-apiserver-autoregistration and apiservice-status-available-controller hooks."""
        from django.utils.module_loading import import_string

        from apiserver.runtime.scheme import scheme
        from apiserver.server.hooks import register_post_start

        scheme.register(import_string("aggregator.apiservices.APIServiceStrategy"))
        register_post_start("kube-apiserver-autoregistration",
                            import_string("aggregator.autoregister.start_autoregistration"))
        register_post_start("apiservice-status-remote-available-controller",
                            import_string("aggregator.availability.start_availability"))
        register_post_start("start-extension-apiserver-authentication",
                            import_string("aggregator.authentication_configmap.start"))
        scheme.register_source("kube-aggregator", import_string("aggregator.proxying.source"))
