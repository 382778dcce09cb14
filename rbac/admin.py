"""The Django admin for Roles, ClusterRoles, RoleBindings and ClusterRoleBindings.

Lists search and filter the rows (namespace, bootstrap policy, roleRef kind, subject kind and
name — the sidebar filters are the JSON API's FilterSets); rules and subjects are edited
inline.  Nothing here writes a row: a save becomes a document the API's Store writes as the
staff user (``rbac.admin_writes``), so it is validated, authorized and escalation-checked like
any API request, gets a new resourceVersion, and reaches watchers.  The rows then change
because the storage wrote them.

Django wraps its add/change/delete views in a transaction; these do not, so the Store's
write commits on its own (its revision lock released at once, its watchers woken after the
commit, as for an API request) and the admin's history entry is written after it.
"""
from __future__ import annotations

import orjson
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.contrib.admin.utils import construct_change_message
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apiserver.runtime.errors import APIError

from . import forms, models
from .admin_filters import ClusterRoleBindingFilterSet, ClusterRoleFilterSet, \
    RoleBindingFilterSet, RoleFilterSet, list_filter
from .admin_writes import SPECS, AdminWriter, DocumentFormSet, WriteRefused

def _fixed(choices):
    def lookups(model_admin):
        return choices
    return lookups


SUBJECT_KINDS = _fixed(forms.SUBJECT_KINDS)
ROLE_KINDS = _fixed(forms.ROLE_REF_KINDS)
BOOTSTRAP = _fixed([("true", "bootstrap policy"), ("false", "other")])


def _subject_names(model_admin):
    names = model_admin.model.objects.values_list("subjects__name", flat=True).distinct()
    return [(n, n) for n in sorted({n for n in names if n})[:100]]


class DocumentInline(admin.TabularInline):
    """Rules or subjects, edited in place; the formset checks the whole document with the
    API before anything is written."""

    formset = DocumentFormSet
    extra = 1


class RuleInline(DocumentInline):
    model, form, fk_name = models.PolicyRule, forms.PolicyRuleForm, "role"
    fields = ["verbs", "api_groups", "resources", "resource_names"]
    verbose_name, verbose_name_plural = "rule", "rules"


class ClusterRuleInline(RuleInline):
    fk_name = "cluster_role"
    fields = RuleInline.fields + ["non_resource_urls"]


class SubjectInline(DocumentInline):
    model, form, fk_name = models.Subject, forms.SubjectForm, "role_binding"
    fields = ["kind", "name", "namespace", "api_group"]


class ClusterSubjectInline(SubjectInline):
    fk_name = "cluster_role_binding"


class KubernetesObjectAdmin(admin.ModelAdmin):
    """What the four admins share: saves and deletes through the API's Store."""

    save_as = False
    key_fields = ("name",)
    server_fields = ("uid", "shown_resource_version", "creation_timestamp", "policy")

    def get_spec(self):
        return SPECS[self.model._meta.model_name]

    def get_readonly_fields(self, request, obj=None):
        fixed = self.key_fields if obj is not None else ()   # renaming is a new object
        return tuple(fixed) + self.server_fields

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if request.method == "POST":
            kwargs.update(writer=AdminWriter(request, self.get_spec()), add=obj.pk is None)
        return kwargs

    @csrf_protect_m
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return self._changeform_view(request, object_id, form_url, extra_context)
        except WriteRefused as err:
            self.message_user(request, str(err), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @csrf_protect_m
    def delete_view(self, request, object_id, extra_context=None):
        try:
            return self._delete_view(request, object_id, extra_context)
        except WriteRefused as err:
            self.message_user(request, str(err), messages.ERROR)
            return HttpResponseRedirect(reverse(
                f"admin:rbac_{self.model._meta.model_name}_change", args=[object_id]))

    def save_model(self, request, obj, form, change):
        """Nothing yet: the object is written with its rules or subjects, in save_related."""

    def save_related(self, request, form, formsets, change):
        [formset] = [f for f in formsets if isinstance(f, DocumentFormSet)]
        stored = formset.write()
        meta = stored["metadata"]
        key = {"name": meta["name"]}
        if self.get_spec().namespaced:
            key["namespace"] = meta.get("namespace", "")
        row = self.model.objects.get(**key)
        form.instance.pk, form.instance.resource_version = row.pk, row.resource_version

    def construct_change_message(self, request, form, formsets, add=False):
        return construct_change_message(form, [], add)

    def log_deletions(self, request, queryset):
        """Logged by delete_model once the Store has deleted (a refused delete is no
        history)."""

    def delete_model(self, request, obj):
        try:
            AdminWriter(request, self.get_spec()).delete(getattr(obj, "namespace", ""),
                                                         obj.name, obj.resource_version)
        except APIError as err:
            raise WriteRefused(err.message) from None
        super().log_deletions(request, [obj])

    def delete_queryset(self, request, queryset):
        for obj in list(queryset):
            try:
                self.delete_model(request, obj)
            except WriteRefused as err:
                self.message_user(request, str(err), messages.ERROR)

    # ---- columns -----------------------------------------------------------------------------
    @admin.display(description="resourceVersion", ordering="resource_version")
    def shown_resource_version(self, obj):
        return obj.resource_version

    @admin.display(boolean=True, description="bootstrap")
    def bootstrap(self, obj):
        return obj.bootstrap

    @admin.display(description="policy")
    def policy(self, obj):
        if obj.pk is None or not obj.bootstrap:
            return "-"
        return ("Bootstrap policy (kubernetes.io/bootstrapping=rbac-defaults): the server "
                "reconciles it at start while its rbac.authorization.kubernetes.io/autoupdate "
                "annotation is not \"false\".")


class RoleAdminBase(KubernetesObjectAdmin):
    search_fields = ["name", "rules__resources", "rules__verbs"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(rule_count=Count("rules"))

    @admin.display(description="rules", ordering="rule_count")
    def rules_count(self, obj):
        return obj.rule_count


@admin.register(models.Role)
class RoleAdmin(RoleAdminBase):
    form = forms.RoleForm
    inlines = [RuleInline]
    key_fields = ("namespace", "name")
    list_display = ["name", "namespace", "rules_count", "bootstrap", "shown_resource_version",
                    "creation_timestamp"]
    list_filter = ["namespace", list_filter(RoleFilterSet, "bootstrap", "bootstrap", BOOTSTRAP)]
    search_fields = RoleAdminBase.search_fields + ["namespace"]
    fieldsets = [(None, {"fields": ["namespace", "name", "labels", "annotations",
                                    "resource_version"]}),
                 ("Set by the server", {"fields": list(KubernetesObjectAdmin.server_fields)})]


@admin.register(models.ClusterRole)
class ClusterRoleAdmin(RoleAdminBase):
    form = forms.ClusterRoleForm
    inlines = [ClusterRuleInline]
    server_fields = KubernetesObjectAdmin.server_fields + ("shown_aggregation_rule",)
    list_display = ["name", "aggregated", "rules_count", "bootstrap", "shown_resource_version",
                    "creation_timestamp"]
    list_filter = [list_filter(ClusterRoleFilterSet, "bootstrap", "bootstrap", BOOTSTRAP)]
    fieldsets = [(None, {"fields": ["name", "labels", "annotations", "resource_version"]}),
                 ("Set by the server", {"fields": list(server_fields)})]

    @admin.display(boolean=True, description="aggregated")
    def aggregated(self, obj):
        return obj.aggregation_rule is not None

    @admin.display(description="aggregationRule")
    def shown_aggregation_rule(self, obj):
        if obj.aggregation_rule is None:
            return "-"
        return format_html("<pre>{}</pre><p>{}</p>", orjson.dumps(
            obj.aggregation_rule, option=orjson.OPT_INDENT_2).decode(),
            "The aggregation controller keeps the rules: they are the union of the rules of "
            "every ClusterRole these selectors match (edits to them are overwritten).")


class BindingAdminBase(KubernetesObjectAdmin):
    search_fields = ["name", "role_ref_name", "subjects__name"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("subjects")

    @admin.display(description="role", ordering="role_ref_name")
    def role_ref(self, obj):
        return f"{obj.role_ref_kind}/{obj.role_ref_name}"

    @admin.display(description="subjects")
    def subject_list(self, obj):
        return format_html_join(", ", "{}", ((str(s),) for s in obj.subjects.all())) or "-"


@admin.register(models.RoleBinding)
class RoleBindingAdmin(BindingAdminBase):
    form = forms.RoleBindingForm
    inlines = [SubjectInline]
    key_fields = ("namespace", "name", "role_ref_kind", "role_ref_name")  # roleRef is immutable
    list_display = ["name", "namespace", "role_ref", "subject_list", "bootstrap",
                    "shown_resource_version"]
    list_filter = ["namespace",
                   list_filter(RoleBindingFilterSet, "role_kind", "role kind", ROLE_KINDS),
                   list_filter(RoleBindingFilterSet, "subject_kind", "subject kind",
                               SUBJECT_KINDS),
                   list_filter(RoleBindingFilterSet, "subject_name", "subject name",
                               _subject_names)]
    search_fields = BindingAdminBase.search_fields + ["namespace"]
    fieldsets = [(None, {"fields": ["namespace", "name", "role_ref_kind", "role_ref_name",
                                    "labels", "annotations", "resource_version"]}),
                 ("Set by the server", {"fields": list(KubernetesObjectAdmin.server_fields)})]


@admin.register(models.ClusterRoleBinding)
class ClusterRoleBindingAdmin(BindingAdminBase):
    form = forms.ClusterRoleBindingForm
    inlines = [ClusterSubjectInline]
    key_fields = ("name", "role_ref_kind", "role_ref_name")
    list_display = ["name", "role_ref", "subject_list", "bootstrap", "shown_resource_version"]
    list_filter = [list_filter(ClusterRoleBindingFilterSet, "subject_kind", "subject kind",
                               SUBJECT_KINDS),
                   list_filter(ClusterRoleBindingFilterSet, "subject_name", "subject name",
                               _subject_names)]
    fieldsets = [(None, {"fields": ["name", "role_ref_kind", "role_ref_name", "labels",
                                    "annotations", "resource_version"]}),
                 ("Set by the server", {"fields": list(KubernetesObjectAdmin.server_fields)})]
