"""The authenticator contract and the union (upstream ``pkg/authentication/request/union``).

Every authenticated user also gets ``system:authenticated``; an invalid credential is 401
and never falls through to anonymous: kubernetes/kubernetes:pkg/kubeapiserver/authenticator/config.go
adds the group and puts anonymous behind ``union.NewFailOnError``.
"""
from __future__ import annotations

from apiserver.authentication.user import UserInfo

AUTHENTICATED = "system:authenticated"
ANONYMOUS = UserInfo(name="system:anonymous", groups=("system:unauthenticated",))


class Authenticator:
    name = ""

    def authenticate(self, scope) -> UserInfo | None:
        """The user this request proves to be, None for no opinion; raise Unauthorized when a
        credential is present but invalid."""
        return None


class Union:
    def __init__(self, authenticators):
        self.authenticators = list(authenticators)

    def authenticate(self, scope) -> UserInfo | None:
        for authenticator in self.authenticators:
            user = authenticator.authenticate(scope)
            if user is not None:
                if AUTHENTICATED not in user.groups:
                    user.groups = tuple(user.groups) + (AUTHENTICATED,)
                return user
        return None
