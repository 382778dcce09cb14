"""Built-in API groups: one Strategy module per kind under a folder per group, registered
in ``apps.ResourcesConfig.ready()``; kind-aware admission plugins in ``admission/``.
May import: apiserver (never rbac, crds or workers)."""
