"""What a Store call, and every Strategy hook it runs, knows about the request that made it
(upstream: the ``context.Context`` each ``rest.RESTCreateStrategy`` hook receives, carrying the
user, the request info and the dry-run/field-manager options;
kubernetes/apiserver:pkg/endpoints/request/context.go)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from apiserver.authentication.user import UserInfo


@dataclass
class RequestContext:
    """One request's context.  The Store fills ``stores`` before any hook runs, so hooks can
    read other kinds (a Binding reads its Pod) without reaching for a module global."""

    user: UserInfo | None = None
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Ignore"     # Ignore | Warn | Strict (upstream default: Warn for
    #                                      clients that send nothing; kubectl sends Strict)
    subresource: str = ""
    verb: str = ""                       # the RequestInfo verb (create, update, patch, …)
    namespace: str = ""                  # the namespace of the URL ("" for cluster scope)
    applying: bool = False               # server-side apply: the apply engine owns managedFields
    warnings: list = field(default_factory=list)
    stores: object = None                # the serving StoreRegistry (set by the Store)
    # the request's UID, the same in both admission phases (AdmissionReview.request.uid)
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    # (group, version, kind, resource) the request named when a ConvertingStore serves it
    # over another version's Store: admission matches and reports that version
    # (upstream's attributes carry the request's kind; apiserver.registry.conversion)
    served_as: tuple | None = None

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def for_subresource(self, subresource: str) -> "RequestContext":
        """The same request acting on ``subresource`` (a Binding writes ``pods/binding``);
        warnings are shared with this context."""
        return replace(self, subresource=subresource, warnings=self.warnings)


def system_context(manager: str, stores=None) -> RequestContext:
    """A context for writes the server makes itself (bootstrap, in-process controllers)."""
    return RequestContext(user=UserInfo("system:apiserver", groups=("system:masters",)),
                          field_manager=manager, stores=stores)
