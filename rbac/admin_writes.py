"""Admin saves go through the API: the admin's forms become a Kubernetes document that the
serving Store creates, updates or deletes, as the staff user's Kubernetes identity.

So an admin edit gets exactly what an API request gets: the authorizer's decision for the
verb, the Store's defaults, validation and admission (escalation checks included), a new
resourceVersion and a change-log row that watchers receive; a stale form is a 409 Conflict,
not a lost update.  The API's errors come back onto the form: each 422 cause onto the field it
names (``rules[1].verbs`` → the second rule's verbs), the rest above the form.

The admin bridge hands every request ``request.kubernetes`` (the serving StoreRegistry and
authorizer, from the completed config): nothing here reaches for a module global.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace

import orjson
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.forms.models import BaseInlineFormSet

from apiserver.authentication.base import with_authenticated_group
from apiserver.authentication.django_users import DjangoUsers
from apiserver.authorization.base import AuthorizationAttributes, Decision
from apiserver.filters.authorization import forbidden_message
from apiserver.registry.context import RequestContext
from apiserver.runtime import errors

from .storage import RBACStorage

G = "rbac.authorization.k8s.io"
FIELD_MANAGER = "django-admin"
MASTERS = "system:masters"


def kubernetes_user(user):
    """The Kubernetes identity of a Django staff user: the identity the API gives the same
    user by password (name, uid, Django groups), plus system:masters for a superuser, plus
    system:authenticated."""
    identity = DjangoUsers._identity(user)
    if user.is_superuser and MASTERS not in identity.groups:
        identity = replace(identity, groups=tuple(identity.groups) + (MASTERS,))
    return with_authenticated_group(identity)


@dataclass(frozen=True)
class KindSpec:
    """How one kind's admin forms map onto its document."""

    plural: str
    kind: str
    namespaced: bool
    children: str                       # "rules" | "subjects"
    child_keys: tuple                   # ((document key, form field), ...) in upstream order
    binding: bool = False

    def parent_field(self, path: str) -> str | None:
        """The object form's field a cause's path names."""
        for prefix, field in (("metadata.name", "name"), ("metadata.namespace", "namespace"),
                              ("metadata.labels", "labels"), ("metadata.annotations", "annotations"),
                              ("roleRef.kind", "role_ref_kind"), ("roleRef.name", "role_ref_name")):
            if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
                return field
        return None


RULE_KEYS = (("verbs", "verbs"), ("apiGroups", "api_groups"), ("resources", "resources"),
             ("resourceNames", "resource_names"), ("nonResourceURLs", "non_resource_urls"))
SUBJECT_KEYS = (("kind", "kind"), ("apiGroup", "api_group"), ("name", "name"),
                ("namespace", "namespace"))
SPECS = {
    "role": KindSpec("roles", "Role", True, "rules", RULE_KEYS),
    "clusterrole": KindSpec("clusterroles", "ClusterRole", False, "rules", RULE_KEYS),
    "rolebinding": KindSpec("rolebindings", "RoleBinding", True, "subjects", SUBJECT_KEYS,
                            binding=True),
    "clusterrolebinding": KindSpec("clusterrolebindings", "ClusterRoleBinding", False,
                                   "subjects", SUBJECT_KEYS, binding=True),
}


class WriteRefused(Exception):
    """The API refused a write after the form had validated (someone else's change landed
    in between): the admin says so and shows the object as it now is."""


# ---- documents -------------------------------------------------------------------------------
def _set(mapping: dict, key: str, value) -> None:
    if value in (None, "", {}, []):
        mapping.pop(key, None)
    else:
        mapping[key] = value


def child_document(spec: KindSpec, data: dict) -> dict:
    """One rule or subject from its form's cleaned data, keys in upstream's order; empty
    fields are left out."""
    return {key: data[field] for key, field in spec.child_keys
            if data.get(field) not in (None, "")}


def build_document(spec: KindSpec, instance, children: list[dict], current: dict | None) -> dict:
    """The document to write: the current one (kept whole: managedFields, unknown keys …) with
    the form's fields applied, or a new one."""
    doc = copy.deepcopy(current) if current is not None else {
        "apiVersion": f"{G}/v1", "kind": spec.kind, "metadata": {}}
    meta = doc.setdefault("metadata", {})
    if current is None:
        meta["name"] = instance.name
        if spec.namespaced:
            meta["namespace"] = instance.namespace
    elif instance.resource_version is not None:
        meta["resourceVersion"] = str(instance.resource_version)
    _set(meta, "labels", instance.labels)
    _set(meta, "annotations", instance.annotations)
    if spec.binding and current is None:      # roleRef is immutable: set once, on add
        doc["roleRef"] = {"apiGroup": G, "kind": instance.role_ref_kind,
                          "name": instance.role_ref_name}
    doc[spec.children] = children
    return doc


# ---- the API's answers onto the form ------------------------------------------------------------
_CHILD = re.compile(r"^(rules|subjects)\[(\d+)\](?:\.(\w+))?")


def place_errors(err: errors.APIError, spec: KindSpec, parent_form, child_forms: list) -> list:
    """Put ``err``'s causes onto the fields they name; returns the messages for above the
    form (always led by the API's own message)."""
    above = [err.message]
    if isinstance(err, errors.AlreadyExists) and parent_form is not None \
            and "name" in parent_form.fields:
        parent_form.add_error("name", err.message)
        return above
    keys = dict(spec.child_keys)
    for cause in err.causes:
        path, text = cause.field or "", cause.message
        child = _CHILD.match(path)
        if child and child.group(1) == spec.children and int(child.group(2)) < len(child_forms):
            form = child_forms[int(child.group(2))]
            field = keys.get(child.group(3) or "")
            form.add_error(field if field in form.fields else None, text)
            continue
        field = spec.parent_field(path)
        if parent_form is not None and field in parent_form.fields:
            parent_form.add_error(field, text)
    return above


# ---- writing ----------------------------------------------------------------------------------
class AdminWriter:
    """The Store calls of one admin request."""

    def __init__(self, request, spec: KindSpec):
        services = getattr(request, "kubernetes", None)
        if services is None:
            raise ImproperlyConfigured("the RBAC admin is served by the admin bridge "
                                       "(apiserver/server/admin_bridge.py), which hands it the "
                                       "server's Stores")
        self.spec = spec
        self.authorizer = services.authorizer
        self.store = services.stores.store(G, "v1", spec.plural)
        if not isinstance(getattr(self.store, "storage", None), RBACStorage):
            # the admin shows the rows: a write that lands elsewhere would vanish from it
            raise ImproperlyConfigured(f"{spec.plural}.{G} are not kept in the RBAC tables "
                                       "(rbac.storage's storage override is not in use)")
        self.user = kubernetes_user(request.user)

    def _context(self, verb: str, namespace: str, dry_run: bool) -> RequestContext:
        return RequestContext(user=self.user, dry_run=dry_run, field_manager=FIELD_MANAGER,
                              field_validation="Strict", verb=verb, namespace=namespace)

    def authorize(self, verb: str, namespace: str, name: str) -> None:
        """The decision the authorization filter would make for the same API request."""
        attrs = AuthorizationAttributes(
            user=self.user, verb=verb, is_resource_request=True, namespace=namespace,
            api_group=G, api_version="v1", resource=self.spec.plural, name=name)
        decision, reason = self.authorizer.authorize(attrs)
        if decision is not Decision.ALLOW:
            raise errors.Forbidden(forbidden_message(self.user, attrs, reason))

    def current(self, instance) -> dict | None:
        """The stored document of a row being changed (None for an add)."""
        if instance.pk is None:
            return None
        try:
            return self.store.load(getattr(instance, "namespace", ""), instance.name)[0]
        except errors.NotFound:
            return None

    def save(self, doc: dict, *, add: bool, dry_run: bool) -> dict:
        """Create or update ``doc``; returns the stored (or, dry, the would-be) document."""
        meta = doc["metadata"]
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        verb = "create" if add else "update"
        self.authorize(verb, namespace, "" if add else name)
        ctx = self._context(verb, namespace, dry_run)
        body = copy.deepcopy(doc)
        if add:
            text = self.store.create(namespace or None, body, ctx)
        else:
            text, _ = self.store.update(namespace or None, name, body, ctx)
        return orjson.loads(text)

    def delete(self, namespace: str, name: str, resource_version: int | None) -> None:
        self.authorize("delete", namespace, name)
        options = {"preconditions": {"resourceVersion": str(resource_version)}} \
            if resource_version else {}
        self.store.delete(namespace or None, name, options,
                          self._context("delete", namespace, False))


class DocumentFormSet(BaseInlineFormSet):
    """The rules or subjects of one object.  Its ``clean`` is the last validation of the
    admin's form: it builds the whole document and asks the Store for a dry run, so the API's
    own checks (and their messages) decide whether the form is valid; ``document`` is then
    what the admin's save writes."""

    def __init__(self, *args, writer: AdminWriter | None = None, add: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.writer, self.add = writer, add
        self.document = None

    def kept_forms(self) -> list:
        """The forms that become entries of the list, in order."""
        deleted = set(map(id, self.deleted_forms)) if self.can_delete else set()
        return [f for f in self.forms if id(f) not in deleted and hasattr(f, "cleaned_data")
                and (f.instance.pk is not None or f.has_changed())]

    def clean(self):
        super().clean()
        if any(name in f.errors for f in self.forms for name in ("id", self.fk.name)):
            # the admin does not show errors of hidden fields: a row the form was opened on
            # is gone, because the object changed meanwhile
            raise ValidationError(f"The {self.writer.spec.children if self.writer else 'rows'} "
                                  "changed since this page was loaded: reload it and apply "
                                  "your changes again.")
        parent = getattr(self.instance, "admin_form", None)
        if self.writer is None or any(self.errors) or (parent is not None and parent.errors):
            return
        spec = self.writer.spec
        kept = self.kept_forms()
        children = [child_document(spec, f.cleaned_data) for f in kept]
        current = None if self.add else self.writer.current(self.instance)
        doc = build_document(spec, self.instance, children, current)
        try:
            self.writer.save(doc, add=self.add, dry_run=True)
        except errors.APIError as err:
            raise ValidationError(place_errors(err, spec, parent, kept)) from None
        self.document = doc

    def write(self) -> dict:
        """The real write of the validated document."""
        try:
            return self.writer.save(self.document, add=self.add, dry_run=False)
        except errors.APIError as err:
            raise WriteRefused(err.message) from None
