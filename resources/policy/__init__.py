"""policy/v1: PodDisruptionBudgets (and the Eviction that pods/eviction takes).  ``KINDS``
lists its Strategy classes."""

KINDS = (
    "resources.policy.poddisruptionbudgets.PodDisruptionBudgetStrategy",
)
