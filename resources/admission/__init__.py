"""Kind-aware admission plugins, each registered under its upstream name.

``PLUGINS`` is the registry of declarations ``RbacConfig``-style apps read in ``ready()``:
upstream name → ``module.Class`` of the plugin (one module per plugin, named after it).
Adding a plugin is one module plus one line here."""

PLUGINS = {
    "NamespaceLifecycle": "resources.admission.namespace_lifecycle.NamespaceLifecycle",
    "DefaultTolerationSeconds":
        "resources.admission.default_toleration_seconds.DefaultTolerationSeconds",
    "NodeRestriction": "resources.admission.node_restriction.NodeRestriction",
}
