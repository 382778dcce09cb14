"""The building blocks of the bootstrap policy: PolicyRules and subjects as upstream's
rbacv1helpers builds them (plugin/pkg/auth/authorizer/rbac/bootstrappolicy)."""
from __future__ import annotations

GROUP = "rbac.authorization.k8s.io"

READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")
READ_WRITE = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
EVENTS_WRITE = ("create", "patch", "update")


def rule(verbs, groups, resources, names=()) -> dict:
    """A resource PolicyRule (verbs, apiGroups, resources, optional resourceNames)."""
    out = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if names:
        out["resourceNames"] = list(names)
    return out


def urls(verbs, paths) -> dict:
    """A non-resource PolicyRule."""
    return {"verbs": list(verbs), "nonResourceURLs": list(paths)}


def events_rule() -> dict:
    """Upstream's ``eventsRule()``: write events in both event groups."""
    return rule(EVENTS_WRITE, ("", "events.k8s.io"), ("events",))


def _subject(kind: str, name: str, namespace: str = "") -> dict:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"apiGroup": GROUP, "kind": kind, "name": name}


def group(name):
    return _subject("Group", name)


def user(name):
    return _subject("User", name)


def service_account(namespace, name):
    return _subject("ServiceAccount", name, namespace)
