"""OwnerReferencesPermissionEnforcement (upstream kubernetes/kubernetes:plugin/pkg/admission/gc/gc_admission.go).

Validating, on create and update of anything (``pods/status`` excepted: the pod status
strategy already keeps owner references as they were):

* an update that changes ``metadata.ownerReferences`` (added, removed, reordered or any
  field changed) needs the ``delete`` verb on the object itself, else
  ``<resource> "<name>" is forbidden: cannot set an ownerRef on a resource you can't
  delete: <reason>, <error>``; a create needs nothing for this (whoever may create an
  object could also have left it uncreated);
* a reference with ``blockOwnerDeletion: true`` that is new, or was not blocking before,
  needs ``update`` of the owner's ``finalizers`` subresource (the owner resource found from
  the reference's apiVersion and kind, as upstream's RESTMapper; in the object's namespace),
  else ``... is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to a
  resource you can't set finalizers on: <reason>, <error>``; a reference whose kind this
  server does not serve: ``... cannot set blockOwnerDeletion in this case because cannot
  find RESTMapping for APIVersion <v> Kind <k>: <why>``.

``<error>`` is Go's ``%v`` of the authorizer's error, ``<nil>`` when there was none, as
upstream's text shows it.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin
from apiserver.authorization.base import AuthorizationAttributes, Decision
from apiserver.registry.initializer import WantsAuthorizer, WantsStores
from resources.admission.refusals import new_forbidden

# (group, resource, subresource) the plugin leaves alone (upstream's whiteList)
IGNORED = {("", "pods", "status")}


class NoMapping(Exception):
    """The owner reference's kind is not served (upstream ``NoKindMatchError``)."""


def _owner_refs(obj) -> list:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    refs = meta.get("ownerReferences") if isinstance(meta, dict) else None
    return [r for r in refs if isinstance(r, dict)] if isinstance(refs, list) else []


def _semantic(ref: dict) -> dict:
    """A reference without the fields Go would leave at their zero value, so an absent
    ``controller`` equals ``controller: null`` (``apiequality.Semantic.DeepEqual``)."""
    return {k: v for k, v in ref.items() if v is not None}


def is_changing_owner_reference(new, old) -> bool:
    new_refs = _owner_refs(new)
    if old is None:
        return bool(new_refs)
    old_refs = _owner_refs(old)
    if len(old_refs) != len(new_refs):
        return True
    return any(_semantic(a) != _semantic(b) for a, b in zip(old_refs, new_refs))


def _blocking(ref: dict) -> bool:
    return ref.get("blockOwnerDeletion") is True


def new_blocking_refs(new, old) -> list:
    """References that block their owner's deletion and did not before (matched by uid)."""
    blocking = [r for r in _owner_refs(new) if _blocking(r)]
    if not blocking or old is None:
        return blocking
    old_by_uid = {r.get("uid"): r for r in _owner_refs(old)}
    return [r for r in blocking
            if r.get("uid") not in old_by_uid or not _blocking(old_by_uid[r.get("uid")])]


def parse_group_version(text: str) -> tuple[str, str]:
    """apimachinery ``schema.ParseGroupVersion``."""
    if not text:
        return "", ""
    parts = text.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise NoMapping(f"unexpected GroupVersion string: {text}")


class OwnerReferencesPermissionEnforcement(Plugin, WantsAuthorizer, WantsStores):
    name = "OwnerReferencesPermissionEnforcement"
    validating = True
    authorizer = None
    stores = None

    def set_authorizer(self, authorizer) -> None:
        self.authorizer = authorizer

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    def _authorize(self, attrs: AuthorizationAttributes) -> tuple[bool, str, str]:
        """(allowed, reason, Go's %v of the error) of one check."""
        try:
            decision, reason = self.authorizer.authorize(attrs)
        except Exception as exc:    # upstream prints the authorizer's error in the refusal
            return False, "", str(exc)
        return decision is Decision.ALLOW, reason or "", "<nil>"

    def _owner_resources(self, ref: dict) -> list[tuple[str, str, str]]:
        """(group, version, resource) the reference's kind maps to (upstream's
        ``RESTMappings`` for the reference's group and version)."""
        group, version = parse_group_version(str(ref.get("apiVersion") or ""))
        kind = str(ref.get("kind") or "")
        index = self.stores.index
        versions = [version] if version else index.versions(group)
        found = []
        for v in versions:
            strategy = index.strategy_for_kind(group, v, kind)
            if strategy is not None:
                found.append((group, v, strategy.plural))
        if not found:
            where = f'version "{group + "/" if group else ""}{version}"' if version \
                else f'group "{group}"'
            raise NoMapping(f'no matches for kind "{kind}" in {where}')
        return found

    def validate(self, attrs):
        if (attrs.group, attrs.resource, attrs.subresource) in IGNORED:
            return
        if not is_changing_owner_reference(attrs.obj, attrs.old):
            return
        if attrs.operation != "CREATE":
            allowed, reason, err = self._authorize(AuthorizationAttributes(
                user=attrs.user, verb="delete", is_resource_request=True,
                namespace=attrs.namespace, api_group=attrs.group, api_version=attrs.version,
                resource=attrs.resource, subresource=attrs.subresource, name=attrs.name))
            if not allowed:
                raise new_forbidden(attrs, "cannot set an ownerRef on a resource you can't "
                                           f"delete: {reason}, {err}")
        for ref in new_blocking_refs(attrs.obj, attrs.old):
            try:
                owners = self._owner_resources(ref)
            except NoMapping as exc:
                raise new_forbidden(
                    attrs, "cannot set blockOwnerDeletion in this case because cannot find "
                           f"RESTMapping for APIVersion {ref.get('apiVersion') or ''} Kind "
                           f"{ref.get('kind') or ''}: {exc}") from None
            # a kind served by several resources: the user needs all of them
            for group, version, resource in owners:
                allowed, reason, err = self._authorize(AuthorizationAttributes(
                    user=attrs.user, verb="update", is_resource_request=True,
                    namespace=attrs.namespace, api_group=group, api_version=version,
                    resource=resource, subresource="finalizers", name=str(ref.get("name") or "")))
                if not allowed:
                    raise new_forbidden(
                        attrs, "cannot set blockOwnerDeletion if an ownerReference refers to a "
                               f"resource you can't set finalizers on: {reason}, {err}")
