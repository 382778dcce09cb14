"""The admin's forms for the RBAC rows: the object's own fields, one form per rule or subject.

Forms only parse what is typed; they do not decide what is valid.  The document built from
them is checked by the API's Store (``rbac.admin_writes``), whose field errors come back onto
these fields, so the admin shows exactly the API's messages (upstream:
kubernetes/kubernetes:pkg/apis/rbac/validation/validation.go).
"""
from __future__ import annotations

import orjson
from django import forms

from . import models

CORE_GROUP = '""'         # how the core API group ("") is typed in a list


class ListField(forms.CharField):
    """A list of strings typed comma-separated, ``""`` standing for the empty string (the
    core API group).  Empty input is no list at all (the key is left out)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 24}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, str) and "," not in v for v in value):
            return ", ".join(CORE_GROUP if v == "" else v for v in value)
        return orjson.dumps(value).decode()     # a value no comma list shows: its JSON

    def to_python(self, value):
        text = (value or "").strip()
        if not text:
            return None
        if text.startswith("["):
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise forms.ValidationError("Not a JSON list.") from None
            if isinstance(parsed, list):
                return parsed
        return ["" if item.strip() == CORE_GROUP else item.strip() for item in text.split(",")]


class MapField(forms.JSONField):
    """A JSON object (labels, annotations); none shows as an empty box, not ``null``."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


def _json_field(help_text: str) -> forms.JSONField:
    return MapField(required=False, help_text=help_text,
                    widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


class KubernetesObjectForm(forms.ModelForm):
    """Name, namespace, labels and annotations, and the resourceVersion the form was opened
    at (the update's precondition: a save over a newer object is a 409, not a silent
    overwrite)."""

    labels = _json_field('A JSON object, e.g. {"app": "web"}.')
    annotations = _json_field("A JSON object of strings.")
    resource_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        # the inline formset validates the whole document and reports field errors here
        self.instance.admin_form = self
        return cleaned


class RoleForm(KubernetesObjectForm):
    class Meta:
        model = models.Role
        fields = ["namespace", "name", "labels", "annotations", "resource_version"]


class ClusterRoleForm(KubernetesObjectForm):
    class Meta:
        model = models.ClusterRole
        fields = ["name", "labels", "annotations", "resource_version"]


ROLE_REF_KINDS = [("ClusterRole", "ClusterRole"), ("Role", "Role")]


# roleRef is fixed once created: its fields become read-only on change, so they are the
# model's fields (a field declared on the form would stay required even when read-only)
class RoleBindingForm(KubernetesObjectForm):
    class Meta:
        model = models.RoleBinding
        fields = ["namespace", "name", "role_ref_kind", "role_ref_name", "labels",
                  "annotations", "resource_version"]
        labels = {"role_ref_kind": "Role kind", "role_ref_name": "Role name"}
        widgets = {"role_ref_kind": forms.Select(choices=ROLE_REF_KINDS)}


class ClusterRoleBindingForm(KubernetesObjectForm):
    class Meta:
        model = models.ClusterRoleBinding
        fields = ["name", "role_ref_kind", "role_ref_name", "labels", "annotations",
                  "resource_version"]
        labels = {"role_ref_kind": "Role kind", "role_ref_name": "Role name"}
        widgets = {"role_ref_kind": forms.Select(choices=ROLE_REF_KINDS[:1])}


class PolicyRuleForm(forms.ModelForm):
    verbs = ListField(help_text="get, list, watch … or *")
    api_groups = ListField(label="API groups", help_text='"" is the core group; * is any')
    resources = ListField(help_text="pods, pods/log, */scale … or *")
    resource_names = ListField(label="Resource names")
    non_resource_urls = ListField(label="Non-resource URLs", help_text="/healthz, /api/* …")

    class Meta:
        model = models.PolicyRule
        fields = ["verbs", "api_groups", "resources", "resource_names", "non_resource_urls"]


SUBJECT_KINDS = [("User", "User"), ("Group", "Group"), ("ServiceAccount", "ServiceAccount")]


class SubjectForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=SUBJECT_KINDS)

    class Meta:
        model = models.Subject
        fields = ["kind", "name", "namespace", "api_group"]
        labels = {"api_group": "API group"}
        help_texts = {"namespace": "ServiceAccounts only",
                      "api_group": "Defaults to rbac.authorization.k8s.io for users and groups"}
