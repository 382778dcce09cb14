"""The filters of the RBAC admin: django-filter FilterSets shared by the JSON API under
/admin/rbac/api/ and the admin's list pages (:func:`list_filter` turns one FilterSet filter into
an admin sidebar filter, so both filter the same way).

* :class:`SubjectFilterSet` — "who can": subjects, narrowed to those granted a request
  (verb, resource, API group, namespace …); ``grants`` keeps the bindings that grant it.
* :class:`RuleFilterSet` — "what can": rules, narrowed to a subject's (``grants`` likewise),
  a namespace, a role, and rules that match a verb, resource or API group.
* :class:`RoleBindingFilterSet`, :class:`ClusterRoleBindingFilterSet`, :class:`RoleFilterSet`,
  :class:`ClusterRoleFilterSet` — the list pages' and the bindings API's filters.
"""
from __future__ import annotations

import django_filters as filters
from django.contrib import admin
from django.db.models import Q

from . import models
from .admin_grants import Snapshot, attributes, identity_of, rule_of
from .rules import api_group_matches, resource_matches, verb_matches

BOOTSTRAP_TEXT = f'"{models.BOOTSTRAP_LABEL}":"{models.BOOTSTRAP_VALUE}"'   # in labels' JSON


def _unchanged(queryset, name, value):
    """Filters that only take part in a joint decision (``filter_queryset``)."""
    return queryset


def _by_python(queryset, keep) -> object:
    return queryset.filter(pk__in=[row.pk for row in queryset if keep(row)])


class SubjectFilterSet(filters.FilterSet):
    """Subjects of bindings; with ``verb`` (and a resource or a path): only those granted
    that request, as upstream's AllowedSubjects answers it."""

    subject_kind = filters.CharFilter(field_name="kind")
    subject_name = filters.CharFilter(field_name="name")
    namespace = filters.CharFilter(method=_unchanged,
                                   help_text="RoleBindings of this namespace and every "
                                             "ClusterRoleBinding")
    role = filters.CharFilter(method="filter_role", help_text="the role bound")
    verb = filters.CharFilter(method=_unchanged)
    resource = filters.CharFilter(method=_unchanged, help_text="pods, pods/log …")
    api_group = filters.CharFilter(method=_unchanged, help_text='"" (the core group) unless given')
    resource_name = filters.CharFilter(method=_unchanged)
    path = filters.CharFilter(method=_unchanged, help_text="a non-resource URL")

    class Meta:
        model = models.Subject
        fields: tuple = ()

    grants: list | None = None

    def filter_role(self, queryset, name, value):
        return queryset.filter(Q(role_binding__role_ref_name=value)
                               | Q(cluster_role_binding__role_ref_name=value))

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        namespace = data.get("namespace") or ""
        if data.get("verb"):
            attrs = attributes(data["verb"], data.get("resource") or "",
                               data.get("api_group") or "", namespace,
                               data.get("resource_name") or "", data.get("path") or "")
            wanted = set(queryset.values_list("pk", flat=True))
            self.grants = [g for g in Snapshot().who_can(attrs) if g.subject.pk in wanted]
            return queryset.filter(pk__in=[g.subject.pk for g in self.grants])
        if namespace:
            return queryset.filter(Q(role_binding__namespace=namespace)
                                   | Q(cluster_role_binding__isnull=False))
        return queryset


class RuleFilterSet(filters.FilterSet):
    """Rules of roles; with ``subject_name``: only those bound to that subject (what it can
    do), each with its binding in ``grants``."""

    subject_kind = filters.CharFilter(method=_unchanged, help_text="User (default), Group or "
                                                                   "ServiceAccount")
    subject_name = filters.CharFilter(method=_unchanged)
    subject_namespace = filters.CharFilter(method=_unchanged, help_text="a ServiceAccount's")
    namespace = filters.CharFilter(method=_unchanged, help_text="only RoleBindings (and Roles) "
                                                                "of this namespace")
    role = filters.CharFilter(method="filter_role")
    verb = filters.CharFilter(method="filter_verb")
    resource = filters.CharFilter(method="filter_resource")
    api_group = filters.CharFilter(method="filter_api_group")

    class Meta:
        model = models.PolicyRule
        fields: tuple = ()

    grants: list | None = None

    def filter_role(self, queryset, name, value):
        return queryset.filter(Q(role__name=value) | Q(cluster_role__name=value))

    def filter_verb(self, queryset, name, value):
        return _by_python(queryset, lambda row: verb_matches(rule_of(row), value))

    def filter_resource(self, queryset, name, value):
        sub = value.partition("/")[2]
        return _by_python(queryset, lambda row: resource_matches(rule_of(row), value, sub))

    def filter_api_group(self, queryset, name, value):
        return _by_python(queryset, lambda row: api_group_matches(rule_of(row), value))

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        namespace = data.get("namespace") or None
        if data.get("subject_name"):
            user = identity_of(data.get("subject_kind") or "User", data["subject_name"],
                               data.get("subject_namespace") or "")
            wanted = set(queryset.values_list("pk", flat=True))
            self.grants = [g for g in Snapshot().what_can(user, namespace) if g.rule.pk in wanted]
            return queryset.filter(pk__in={g.rule.pk for g in self.grants})
        if namespace:
            return queryset.filter(Q(role__namespace=namespace) | Q(cluster_role__isnull=False))
        return queryset


class _BindingFilterSet(filters.FilterSet):
    subject_kind = filters.CharFilter(method="filter_subject")
    subject_name = filters.CharFilter(method="filter_subject")
    role = filters.CharFilter(field_name="role_ref_name")
    role_kind = filters.CharFilter(field_name="role_ref_kind")

    def filter_subject(self, queryset, name, value):
        """Kind and name of the *same* subject row (one filter() call, one join)."""
        data = self.form.cleaned_data
        if name == "subject_kind" and data.get("subject_name"):
            return queryset             # applied with the name
        match = {"subjects__name": data["subject_name"]} if data.get("subject_name") else {}
        if data.get("subject_kind"):
            match["subjects__kind"] = data["subject_kind"]
        return queryset.filter(**match).distinct()


class RoleBindingFilterSet(_BindingFilterSet):
    namespace = filters.CharFilter(field_name="namespace")

    class Meta:
        model = models.RoleBinding
        fields: tuple = ()


class ClusterRoleBindingFilterSet(_BindingFilterSet):
    class Meta:
        model = models.ClusterRoleBinding
        fields: tuple = ()


class _RoleFilterSet(filters.FilterSet):
    bootstrap = filters.BooleanFilter(method="filter_bootstrap",
                                      help_text="label kubernetes.io/bootstrapping=rbac-defaults")

    def filter_bootstrap(self, queryset, name, value):
        has = Q(labels__contains=BOOTSTRAP_TEXT)
        return queryset.filter(has if value else ~has | Q(labels__isnull=True))


class RoleFilterSet(_RoleFilterSet):
    namespace = filters.CharFilter(field_name="namespace")

    class Meta:
        model = models.Role
        fields: tuple = ()


class ClusterRoleFilterSet(_RoleFilterSet):
    class Meta:
        model = models.ClusterRole
        fields: tuple = ()


def list_filter(filterset_class, parameter: str, title: str, choices):
    """An admin sidebar filter that applies ``filterset_class``'s ``parameter`` filter;
    ``choices(model_admin)`` lists its (value, label) pairs."""

    class FilterSetListFilter(admin.SimpleListFilter):
        parameter_name = parameter

        def lookups(self, request, model_admin):
            return choices(model_admin)

        def queryset(self, request, queryset):
            if self.value() is None:
                return queryset
            filterset = filterset_class({parameter: self.value()}, queryset=queryset)
            return filterset.qs if filterset.is_valid() else queryset.none()

    FilterSetListFilter.title = title
    FilterSetListFilter.__name__ = f"{filterset_class.__name__}_{parameter}"
    return FilterSetListFilter
