"""Roles, ClusterRoles and their bindings as relational rows, so the Django admin can list,
search and edit them (rules and subjects as rows of their own).

The rows are written only by :class:`rbac.storage.RBACStorage`, inside the same transaction
that bumps the global revision and appends the change-log row, and read back into the JSON
document the API serves.  A document must come back byte for byte as it was written, so:

* each JSON-valued column keeps the JSON *text* (:class:`JSONText`): PostgreSQL's ``jsonb``
  would reorder object keys;
* ``layout`` keeps the key order of every object level (the object, its metadata, its roleRef,
  each rule and subject), which tells "absent" from "present and null" too;
* what has no column of its own stays as JSON: ``metadata_rest`` (the rest of metadata),
  ``rest`` (the rest of the object: apiVersion, kind and anything else).

The mapping between document keys and these columns is ``rbac.storage_layout``.

Upstream types: kubernetes/api:rbac/v1/types.go (Role, ClusterRole, PolicyRule, AggregationRule,
RoleBinding, ClusterRoleBinding, Subject, RoleRef) and apimachinery's ObjectMeta.
"""
from __future__ import annotations

import orjson
from django import forms
from django.db import models
from django.db.models import Q

BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
BOOTSTRAP_VALUE = "rbac-defaults"


class JSONText(models.TextField):
    """A JSON value stored as its text, keys in the order written.  ``None`` is SQL NULL
    (whether the key is present at all is the owning row's ``layout``)."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else orjson.loads(value)

    def to_python(self, value):
        return value            # already a JSON value (TextField would make it a str)

    def get_prep_value(self, value):
        return None if value is None else orjson.dumps(value).decode()

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))

    def formfield(self, **kwargs):
        return forms.JSONField(**{"required": not self.blank, "widget": forms.Textarea(
            attrs={"rows": 3, "cols": 60}), **kwargs})


class KubernetesObject(models.Model):
    """ObjectMeta's columns and the bookkeeping every RBAC object row has."""

    name = models.CharField(max_length=253)
    resource_version = models.BigIntegerField(
        help_text="The revision of the write that produced this row (metadata.resourceVersion).")
    uid = models.CharField(max_length=128, blank=True, default="")
    generation = models.BigIntegerField(null=True, blank=True)
    creation_timestamp = models.CharField(max_length=64, blank=True, default="")
    deletion_timestamp = models.CharField(max_length=64, blank=True, default="")
    labels = JSONText(null=True, blank=True)
    annotations = JSONText(null=True, blank=True)
    owner_references = JSONText(null=True, blank=True)
    finalizers = JSONText(null=True, blank=True)
    managed_fields = JSONText(null=True, blank=True)
    metadata_rest = JSONText(null=True, blank=True,
                             help_text="The rest of metadata (keys without a column).")
    rest = JSONText(null=True, blank=True,
                    help_text="The rest of the object: apiVersion, kind, keys without a column.")
    layout = JSONText(null=True, blank=True, help_text="Key order of the document's objects.")

    class Meta:
        abstract = True

    @property
    def bootstrap(self) -> bool:
        """Part of the default policy the server reconciles (label
        kubernetes.io/bootstrapping=rbac-defaults)."""
        return (self.labels or {}).get(BOOTSTRAP_LABEL) == BOOTSTRAP_VALUE \
            if isinstance(self.labels, dict) else False


class Role(KubernetesObject):
    namespace = models.CharField(max_length=63)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["namespace", "name"], name="rbac_role_key")]
        ordering = ["namespace", "name"]

    def __str__(self):
        return f"{self.namespace}/{self.name}"


class ClusterRole(KubernetesObject):
    aggregation_rule = JSONText(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name"], name="rbac_clusterrole_key")]
        ordering = ["name"]

    def __str__(self):
        return self.name


class PolicyRule(models.Model):
    """One entry of a Role's or ClusterRole's ``rules``, at ``position``.  Each list is kept
    as JSON (SQL NULL when the rule does not have that key)."""

    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="rules")
    cluster_role = models.ForeignKey(ClusterRole, null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField()
    verbs = JSONText(null=True, blank=True)
    api_groups = JSONText(null=True, blank=True)
    resources = JSONText(null=True, blank=True)
    resource_names = JSONText(null=True, blank=True)
    non_resource_urls = JSONText(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__isnull=False, cluster_role__isnull=True)
                | Q(role__isnull=True, cluster_role__isnull=False),
                name="rbac_policyrule_one_owner"),
            models.UniqueConstraint(fields=["role", "position"], name="rbac_policyrule_role_pos"),
            models.UniqueConstraint(fields=["cluster_role", "position"],
                                    name="rbac_policyrule_clusterrole_pos"),
        ]

    def __str__(self):
        return f"rules[{self.position}]"


class Binding(KubernetesObject):
    """A binding's roleRef (apiGroup, kind, name)."""

    role_ref_api_group = models.CharField(max_length=253, blank=True, default="")
    role_ref_kind = models.CharField(max_length=32, blank=True, default="")
    role_ref_name = models.CharField(max_length=253, blank=True, default="")

    class Meta:
        abstract = True


class RoleBinding(Binding):
    namespace = models.CharField(max_length=63)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["namespace", "name"],
                                               name="rbac_rolebinding_key")]
        ordering = ["namespace", "name"]

    def __str__(self):
        return f"{self.namespace}/{self.name}"


class ClusterRoleBinding(Binding):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["name"],
                                               name="rbac_clusterrolebinding_key")]
        ordering = ["name"]

    def __str__(self):
        return self.name


class Subject(models.Model):
    """One entry of a binding's ``subjects``, at ``position``."""

    role_binding = models.ForeignKey(RoleBinding, null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="subjects")
    cluster_role_binding = models.ForeignKey(ClusterRoleBinding, null=True, blank=True,
                                             on_delete=models.CASCADE, related_name="subjects")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=32, blank=True, default="")
    api_group = models.CharField(max_length=253, blank=True, default="")
    name = models.CharField(max_length=1024, blank=True, default="")
    namespace = models.CharField(max_length=63, blank=True, default="")

    class Meta:
        ordering = ["position"]
        indexes = [models.Index(fields=["kind", "name"], name="rbac_subject_kind_name")]
        constraints = [
            models.CheckConstraint(
                condition=Q(role_binding__isnull=False, cluster_role_binding__isnull=True)
                | Q(role_binding__isnull=True, cluster_role_binding__isnull=False),
                name="rbac_subject_one_owner"),
            models.UniqueConstraint(fields=["role_binding", "position"],
                                    name="rbac_subject_rolebinding_pos"),
            models.UniqueConstraint(fields=["cluster_role_binding", "position"],
                                    name="rbac_subject_clusterrolebinding_pos"),
        ]

    def __str__(self):
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"
