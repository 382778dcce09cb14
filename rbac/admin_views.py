"""The "who can" page and its JSON API (/admin/rbac/who-can/, /admin/rbac/api/…).

Both answer from the same FilterSets (``rbac.admin_filters``) over the live rows:

* ``who-can``: subjects granted VERB RESOURCE (API group, namespace, resource name) or VERB
  on a non-resource path, each with the binding, role and rule that grant it;
* ``what-can``: the rules a subject (User, Group, ServiceAccount) holds, each with its
  binding and where it holds (a namespace, or everywhere);
* ``bindings``: RoleBindings and ClusterRoleBindings by subject, namespace and role.

Staff only: the page through the admin's login, the API through the admin session (DRF's
SessionAuthentication, so CSRF applies as in the admin); both also need a view permission on
the RBAC models.
"""
from __future__ import annotations

import orjson
from django import forms
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from . import models
from .admin_filters import ClusterRoleBindingFilterSet, RoleBindingFilterSet, RuleFilterSet, \
    SubjectFilterSet
from .admin_grants import MASTERS

VIEW_PERMISSIONS = ("rbac.view_rolebinding", "rbac.view_clusterrolebinding", "rbac.view_role",
                    "rbac.view_clusterrole")


def may_view(user) -> bool:
    return bool(user and user.is_active and user.is_staff and user.has_perms(VIEW_PERMISSIONS))


# ---- JSON shapes ---------------------------------------------------------------------------------
def _present(pairs) -> dict:
    return {k: v for k, v in pairs if v not in (None, "")}


def subject_json(s) -> dict:
    return _present((("kind", s.kind), ("apiGroup", s.api_group), ("name", s.name),
                     ("namespace", s.namespace)))


def rule_json(r) -> dict:
    return _present((("verbs", r.verbs), ("apiGroups", r.api_groups), ("resources", r.resources),
                     ("resourceNames", r.resource_names),
                     ("nonResourceURLs", r.non_resource_urls)))


def binding_json(b) -> dict:
    kind = "RoleBinding" if isinstance(b, models.RoleBinding) else "ClusterRoleBinding"
    return _present((("kind", kind), ("namespace", getattr(b, "namespace", "")), ("name", b.name),
                     ("roleRef", {"kind": b.role_ref_kind, "name": b.role_ref_name}),
                     ("resourceVersion", str(b.resource_version)))) | {
        "subjects": [subject_json(s) for s in b.subjects.all()]}


def grant_json(g, with_subject: bool) -> dict:
    out = {"subject": subject_json(g.subject)} if with_subject else {}
    b = binding_json(g.binding)
    b.pop("subjects")
    return out | {"binding": b, "roleFound": g.role is not None, "rule": rule_json(g.rule),
                  "namespace": g.namespace or "*"}


def admin_url(obj) -> str:
    return reverse(f"admin:rbac_{obj._meta.model_name}_change", args=[obj.pk])


# ---- the API ----------------------------------------------------------------------------------------
class MayViewRBAC(BasePermission):
    def has_permission(self, request, view):
        return may_view(request.user)


class StaffAPIView(APIView):
    """A read-only JSON view for admin sessions (the API's own DRF settings — no
    authentication classes, Kubernetes Status errors — do not apply here)."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAdminUser, MayViewRBAC]
    renderer_classes = [JSONRenderer]
    parser_classes = ()                        # GET only
    content_negotiation_class = DefaultContentNegotiation
    http_method_names = ["get", "head", "options"]

    def get_exception_handler(self):
        return exception_handler

    @staticmethod
    def invalid(filterset) -> Response:
        return Response({"errors": filterset.errors}, status=400)


class GrantsAPI(StaffAPIView):
    """Rows a FilterSet selects; the grants behind them when the query asked a question."""

    filterset_class = model = None

    def rows(self, rows) -> dict:
        raise NotImplementedError

    def grants(self, grants) -> dict:
        raise NotImplementedError

    def get(self, request):
        fs = self.filterset_class(request.query_params, queryset=self.model.objects.all(),
                                  request=request)
        if not fs.is_valid():
            return self.invalid(fs)
        rows = fs.qs            # filtering fills fs.grants when a question was asked
        return Response(self.rows(rows) if fs.grants is None else self.grants(fs.grants))


class WhoCanAPI(GrantsAPI):
    """``?verb=&resource=&api_group=&namespace=&resource_name=`` or ``?verb=&path=``, and
    optionally ``subject_kind``, ``subject_name``, ``role``."""

    filterset_class, model = SubjectFilterSet, models.Subject

    def rows(self, rows):
        return {"subjects": [subject_json(s) for s in rows]}

    def grants(self, grants):
        return {"alwaysAllowed": [{"kind": "Group", "name": MASTERS}],
                "grants": [grant_json(g, True) for g in grants]}


class WhatCanAPI(GrantsAPI):
    """``?subject_kind=&subject_name=&subject_namespace=&namespace=`` and optionally
    ``verb``, ``resource``, ``api_group``, ``role``."""

    filterset_class, model = RuleFilterSet, models.PolicyRule

    def rows(self, rows):
        return {"rules": [rule_json(r) for r in rows]}

    def grants(self, grants):
        return {"grants": [grant_json(g, False) for g in grants]}


class BindingsAPI(StaffAPIView):
    """``?subject_kind=&subject_name=&namespace=&role=&role_kind=``; ``namespace`` limits
    the RoleBindings (ClusterRoleBindings hold in every namespace, so they are listed too)."""

    def get(self, request):
        found = []
        params = request.query_params
        for filterset_class, model in ((ClusterRoleBindingFilterSet, models.ClusterRoleBinding),
                                       (RoleBindingFilterSet, models.RoleBinding)):
            fs = filterset_class(params, queryset=model.objects.prefetch_related("subjects"),
                                 request=request)
            if not fs.is_valid():
                return self.invalid(fs)
            found += list(fs.qs)
        return Response({"items": [binding_json(b) for b in found]})


api_urlpatterns = [
    path("who-can/", WhoCanAPI.as_view(), name="rbac_api_who_can"),
    path("what-can/", WhatCanAPI.as_view(), name="rbac_api_what_can"),
    path("bindings/", BindingsAPI.as_view(), name="rbac_api_bindings"),
]


# ---- the page ----------------------------------------------------------------------------------------
class WhoCanForm(forms.Form):
    verb = forms.CharField(initial="get")
    resource = forms.CharField(required=False, help_text="pods, pods/log, deployments …")
    api_group = forms.CharField(required=False, label="API group",
                                help_text='empty: the core group')
    namespace = forms.CharField(required=False, help_text="empty: cluster-wide only")
    resource_name = forms.CharField(required=False)
    path = forms.CharField(required=False, label="or a non-resource URL", help_text="/healthz")


class WhatCanForm(forms.Form):
    subject_kind = forms.ChoiceField(label="Kind", choices=[
        ("User", "User"), ("Group", "Group"), ("ServiceAccount", "ServiceAccount")])
    subject_name = forms.CharField(label="Name")
    subject_namespace = forms.CharField(required=False, label="Namespace",
                                        help_text="a ServiceAccount's")
    namespace = forms.CharField(required=False, label="Only in namespace")


def _rows(grants, with_subject: bool) -> list[dict]:
    return [{"subject": subject_json(g.subject) if with_subject else None,
             "binding": g.binding, "binding_url": admin_url(g.binding),
             "role": g.role, "role_url": admin_url(g.role) if g.role else "",
             "rule": orjson.dumps(rule_json(g.rule)).decode(),
             "namespace": g.namespace or "every namespace"}
            for g in grants]


def who_can(request):
    """The admin page (wrapped by the site's ``admin_view``: staff login required)."""
    from django.contrib import admin

    if not may_view(request.user):
        raise PermissionDenied
    mode = request.GET.get("mode")
    who = WhoCanForm(request.GET if mode == "who" else None, prefix="who")
    what = WhatCanForm(request.GET if mode == "what" else None, prefix="what")
    context = {**admin.site.each_context(request), "title": "Who can … / What can …",
               "who_form": who, "what_form": what, "mode": mode, "rows": None}
    if mode == "who" and who.is_valid():
        fs = SubjectFilterSet(who.cleaned_data, queryset=models.Subject.objects.all())
        if fs.is_valid():
            fs.qs    # noqa: B018 (evaluates the filters, which fill ``grants``)
            context["rows"] = _rows(fs.grants or [], True)
            context["always"] = MASTERS
    elif mode == "what" and what.is_valid():
        fs = RuleFilterSet(what.cleaned_data, queryset=models.PolicyRule.objects.all())
        if fs.is_valid():
            fs.qs    # noqa: B018
            context["rows"] = _rows(fs.grants or [], False)
    return TemplateResponse(request, "rbac/who_can.html", context)
