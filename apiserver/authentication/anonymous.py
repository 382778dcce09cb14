"""Anonymous requests (``--anonymous-auth``, default true): ``system:anonymous`` in
``system:unauthenticated`` (kubernetes/apiserver:pkg/authentication/request/anonymous/
anonymous.go).  The union asks it only when no other authenticator had an opinion and none
raised, so a bad credential never becomes anonymous.

``paths`` limits anonymous access to those paths (1.32's AuthenticationConfiguration
``anonymous.conditions``, KEP-4633); elsewhere the request is 401.  kube-apiserver turns
anonymous off altogether when ``AlwaysAllow`` is an authorization mode; this server instead
limits it to the public health and version endpoints there (what
``system:public-info-viewer`` grants anonymous users under RBAC), so probes keep working.

May import: apiserver.authentication.
"""
from __future__ import annotations

from apiserver.authentication.base import (ANONYMOUS_USER, UNAUTHENTICATED, Authenticator)
from apiserver.authentication.user import UserInfo

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


def public_path(path: str, paths) -> bool:
    return any(path == p or path.startswith(p + "/") for p in paths)


class AnonymousAuthenticator(Authenticator):
    name = "anonymous"

    def __init__(self, paths: tuple | None = None):
        self.paths = None if paths is None else tuple(paths)

    def authenticate(self, scope):
        if self.paths is not None and not public_path(scope.get("path", ""), self.paths):
            return None
        return UserInfo(name=ANONYMOUS_USER, groups=(UNAUTHENTICATED,))
