"""The per-kind contract: declarations a kind makes and the hooks the generic Store calls.

A kind is one subclass of :class:`Strategy` in a module named after its plural
(``resources/core/configmaps.py``) registered with one line in its app's ``ready()``.
Declarations sit at the top of the class, hooks below, helpers after.

The generic Store (``apiserver.registry.store``) alone decides when hooks run:

create   decode ▸ ``default`` ▸ mutating admission ▸ ``prepare_for_create`` ▸ generic
         ObjectMeta validation + ``validate`` ▸ ``canonicalize`` ▸ validating admission ▸ write
         ▸ ``after_create``
update   decode ▸ ``default`` ▸ mutating admission ▸ ``prepare_for_update`` ▸ generic
         validation + ``validate_update`` ▸ ``canonicalize`` ▸ validating admission ▸ write
status   as update, but ``prepare_for_status_update`` replaces ``prepare_for_update`` and
         ``validate_status_update`` replaces ``validate_update``
delete   validating admission ▸ ``grace_period`` decides between immediate removal and setting
         deletionTimestamp (then ``prepare_for_delete``)
read     ``table_row`` renders one object for ``as=Table``; a kind with ``stored = False``
         that declares "get"/"list" is read through ``read_virtual``/``list_virtual``

Hooks that upstream gives a ``context.Context`` receive the request's
:class:`~apiserver.registry.context.RequestContext` first (``ctx``: user, dry-run,
subresource, verb, and ``ctx.stores`` to read other kinds); pure hooks (``default``,
``canonicalize``, ``table_row``, ``generation_changed``, ``blocking_finalizers``) do not.
Hooks work on plain JSON dicts (wire form, camelCase) and mutate them in place; a hook
returning field errors returns ``list[FieldError]`` (empty when valid).  Upstream shape:
kubernetes/apiserver:pkg/registry/rest/create.go, update.go and each kind's strategy.go.

Subresources are declared objects (:class:`Subresource`): ``status`` and ``scale`` are
served by the generic Store and handler; a create-style subresource (``pods/binding``,
``serviceaccounts/token``) is a subclass whose :meth:`Subresource.create` answers the POST;
a connect-style one (:class:`Connect`: ``pods/exec``, ``pods/log``, ``nodes/proxy`` …) is
answered by ``apiserver.endpoints.connect``, which proxies to the :class:`Location` the
subresource picks.

Kinds that need a server dependency (the authorizer, the token issuer, the service-IP
range) implement the ``Wants*`` interfaces of ``apiserver.registry.initializer``; the server
hands the dependency over when it installs the kind.

May import: apiserver.runtime, apiserver.registry.printers and apiserver.registry.context.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

from apiserver.registry.printers import age
from apiserver.runtime.errors import FieldError, MethodNotAllowed

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Column:
    """One Table column (``meta.k8s.io/v1 TableColumnDefinition``)."""

    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


NAME_COLUMN = Column("Name", "string", "name",
                     "Name must be unique within a namespace. Cannot be updated.")
AGE_COLUMN = Column("Age", "string", "",
                    "CreationTimestamp is a timestamp representing the server time when this "
                    "object was created.")


@dataclass(frozen=True)
class Subresource:
    """A subresource a kind serves (upstream: the extra REST storages a kind's
    ``storage.go`` registers beside the main one, such as ``pods/status``).

    ``kind`` is the (group, version, kind) the subresource reads and writes when it is not
    the parent's own; ``schema_name`` its OpenAPI definition."""

    name: str
    verbs: tuple = ("get", "patch", "update")
    kind: tuple | None = None
    schema_name: str = ""

    def create(self, ctx, store, namespace: str, name: str, body: dict) -> tuple[int, dict | str]:
        """POST ``<name>/<subresource>``: answer with (HTTP status, body).  Only create-style
        subresources (``verbs == ("create",)``) override it; ``store`` is the parent's Store."""
        raise MethodNotAllowed(f'create is not supported on resources of kind '
                               f'"{store.strategy.plural}/{self.name}"')


STATUS = Subresource("status")


@dataclass(frozen=True)
class Location:
    """Where a connect-style subresource's request goes (upstream: the ``*url.URL`` and
    transport a ``rest.Connecter``'s ``Connect`` picks).  ``backend`` names the transport:
    "kubelet" (TLS, the API server's kubelet client certificate, the kubelet CA) or
    "direct" (plain HTTP to a pod or an endpoint).  ``host`` is an IP address the strategy
    has already checked; ``server_name`` what the backend's certificate must name."""

    host: str
    port: int
    path: str
    query: str = ""
    backend: str = "kubelet"
    scheme: str = "https"
    server_name: str = ""
    upgrade_required: bool = False     # exec/attach/portforward: 400 without an upgrade
    insecure: bool = False             # skip verifying the backend (insecureSkipTLSVerifyBackend)
    stream: bool = False               # a streamed GET answered as text (pods/log)
    flush: bool = False                # pass each chunk on as it comes (follow)
    content_type: str = "text/plain"   # of a streamed answer
    resource: str = ""                 # for Status errors made from the backend's answer
    name: str = ""


@dataclass(frozen=True)
class Connect(Subresource):
    """A connect-style subresource (upstream ``rest.Connecter``: pods/exec, attach,
    portforward, proxy, log, nodes/proxy, services/proxy).  Nothing is stored: the request
    is authorized (``verbs``: the kube verbs its HTTP ``methods`` map to), admitted as
    CONNECT with ``options`` as the object (``kind`` is the options' kind, e.g.
    PodExecOptions), then proxied to the :class:`Location` that :meth:`location` picks.
    ``subpath``: the URL may go on below the subresource (``proxy/<path>``)."""

    verbs: tuple = ("create", "get")
    methods: tuple = ("GET", "POST")
    subpath: bool = False
    admitted: bool = True              # pods/log is a plain read: no CONNECT admission

    def options(self, query: dict, subpath: str) -> dict:
        """The options object (wire form, with kind and apiVersion) from the query
        (``{key: [values]}``); raises BadRequest for a bad value."""
        return {"kind": self.kind[2], "apiVersion": "v1"} if self.kind else {}

    def location(self, ctx, store, namespace: str, name: str, options: dict) -> Location:
        """Where to send the request (blocking: may read other kinds through
        ``ctx.stores``); raises an APIError when there is nowhere to send it."""
        raise MethodNotAllowed(f'connect is not supported on resources of kind '
                               f'"{store.strategy.plural}/{self.name}"')


@dataclass(frozen=True)
class Scale(Subresource):
    """``/scale``: an ``autoscaling/v1 Scale`` view of where a kind keeps its replicas, as
    dotted paths into the object."""

    name: str = "scale"
    kind: tuple = ("autoscaling", "v1", "Scale")
    schema_name: str = "io.k8s.api.autoscaling.v1.Scale"
    spec_replicas: str = "spec.replicas"
    status_replicas: str = "status.replicas"
    label_selector: str = "status.selector"   # a string (CRD style) or, for apps, spec.selector


class Strategy:
    """Base class for every kind.  Subclasses override declarations and any hooks they need."""

    # ---- declarations -------------------------------------------------------------------
    group: ClassVar[str] = ""                 # "" is the core (legacy) group
    version: ClassVar[str] = "v1"
    kind: ClassVar[str] = ""
    plural: ClassVar[str] = ""
    singular: ClassVar[str] = ""              # defaults to kind.lower()
    namespaced: ClassVar[bool] = True
    short_names: ClassVar[tuple] = ()
    categories: ClassVar[tuple] = ()
    verbs: ClassVar[tuple] = ALL_VERBS
    subresources: ClassVar[tuple] = ()        # Subresource declarations (STATUS, Scale(), …)
    schema_name: ClassVar[str] = ""           # OpenAPI definition, e.g. io.k8s.api.core.v1.Pod
    # field selector label -> function(obj) -> str; metadata.name/namespace are always there
    selectable_fields: ClassVar[dict[str, Callable[[dict], str]]] = {}
    columns: ClassVar[tuple] = (NAME_COLUMN, AGE_COLUMN)
    stored: ClassVar[bool] = True   # False: a "virtual" kind, nothing stored: a create-only
    #                                  one (reviews, TokenRequest) answers in ``create_virtual``,
    #                                  a read-only one (ComponentStatus) in ``read_virtual`` and
    #                                  ``list_virtual``
    tracks_generation: ClassVar[bool] = False  # metadata.generation set and bumped on spec change
    return_deleted_object: ClassVar[bool] = False  # DELETE answers the object, not a Status
    # what a DELETE naming no propagation policy does to dependents (upstream
    # rest.GarbageCollectionDeleteStrategy): "DeleteDependents" (background collection),
    # "OrphanDependents" (adds the orphan finalizer: upstream's batch/v1 Jobs and v1
    # ReplicationControllers, for compatibility) or "Unsupported" (no GC finalizer, ever)
    default_garbage_collection_policy: ClassVar[str] = "DeleteDependents"
    # (group, version) this kind is stored in, when it is served in another one as well;
    # the convert_* hooks translate (see apiserver.registry.conversion)
    storage_version: ClassVar[tuple | None] = None
    # with ``storage_version``: this version's field-selector labels → the storage version's
    # (upstream's AddFieldLabelConversionFunc); a label not in it is refused.  None: the
    # labels pass through unchanged
    field_label_conversions: ClassVar[dict | None] = None
    # True when stored objects need a pass on every read (``decode_stored``): custom
    # resources written under an earlier storage version, or whose schema has defaults
    # (upstream's CRD codec converts and defaults what it decodes from storage)
    decodes_stored: ClassVar[bool] = False
    allow_unconditional_update: ClassVar[bool] = True
    allow_create_on_update: ClassVar[bool] = False
    # "subdomain" (DNS-1123 subdomain), "label" (DNS-1123 label), "dns1035", "path" (any
    # path-segment-safe name): how metadata.name is validated
    name_rule: ClassVar[str] = "subdomain"
    # kube-apiserver's kinds also refuse a finalizer name without '/' that is not a standard
    # one (kubernetes/kubernetes:pkg/apis/core/validation); generic apimachinery validation
    # (apiextensions-apiserver's kinds) does not
    kube_finalizer_names: ClassVar[bool] = True
    # generation is bumped when anything outside these top-level keys changes
    generation_ignores: ClassVar[tuple] = ("metadata", "status", "apiVersion", "kind")
    # top-level keys a write to the main resource may not change (owned by /status)
    status_keys: ClassVar[tuple] = ("status",)

    # ---- derived names --------------------------------------------------------------------
    @classmethod
    def api_version(cls) -> str:
        return f"{cls.group}/{cls.version}" if cls.group else cls.version

    @classmethod
    def singular_name(cls) -> str:
        return cls.singular or cls.kind.lower()

    @classmethod
    def list_kind(cls) -> str:
        return cls.kind + "List"

    @classmethod
    def subresource(cls, name: str) -> Subresource | None:
        """The declared subresource called ``name``, or None."""
        for sub in cls.subresources:
            if sub.name == name:
                return sub
        return None

    @classmethod
    def subresource_names(cls) -> tuple:
        return tuple(sub.name for sub in cls.subresources)

    @classmethod
    def has_status(cls) -> bool:
        return cls.subresource("status") is not None

    @classmethod
    def scale_spec(cls) -> Scale | None:
        sub = cls.subresource("scale")
        return sub if isinstance(sub, Scale) else None

    # ---- hooks ----------------------------------------------------------------------------
    def default(self, obj: dict) -> None:
        """Apply the kind's API defaults (upstream ``SetDefaults_*``) to a decoded object.

        Runs on every create, update and patch result before admission; must be idempotent,
        because a no-op write is detected by comparing the defaulted object with storage.
        """

    def prepare_for_create(self, ctx, obj: dict) -> None:
        """Normalise a new object before validation: e.g. drop ``status`` for kinds with a
        status subresource, set initial status fields.  Metadata is already filled in."""
        if self.has_status():
            obj.pop("status", None)

    def validate(self, ctx, obj: dict) -> list[FieldError]:
        """Return field errors for a new object (ObjectMeta is validated generically)."""
        return []

    def prepare_for_update(self, ctx, new: dict, old: dict) -> None:
        """Adjust an update of the main resource: by default writes to the main resource
        keep the stored ``status`` (it belongs to ``/status``)."""
        if self.has_status():
            for key in self.status_keys:
                if key in old:
                    new[key] = old[key]
                else:
                    new.pop(key, None)

    def validate_update(self, ctx, new: dict, old: dict) -> list[FieldError]:
        """Return field errors for an update; by default the same rules as create."""
        return self.validate(ctx, new)

    def prepare_for_status_update(self, ctx, new: dict, old: dict) -> None:
        """A ``/status`` write changes only ``status``: everything else comes from ``old``."""
        status = {k: new[k] for k in self.status_keys if k in new}
        for key in list(new):
            if key != "metadata":
                del new[key]
        for key, value in old.items():
            if key != "metadata":
                new[key] = value
        new.update(status)
        for key in self.status_keys:
            if key not in status:
                new.pop(key, None)

    def validate_status_update(self, ctx, new: dict, old: dict) -> list[FieldError]:
        """Return field errors for a ``/status`` write."""
        return []

    def after_create(self, ctx, obj: dict) -> None:
        """Runs after ``obj`` was stored by a (non-dry-run) create.  For what upstream's
        controllers would do at once in a new object's wake (a Namespace's ``default``
        ServiceAccount), through ``ctx.stores``.  A failure here never undoes the create."""

    def prepare_for_delete(self, ctx, obj: dict) -> None:
        """Runs when a DELETE marks ``obj`` for deletion instead of removing it (finalizers
        or a grace period): e.g. a Namespace turns ``Terminating`` in the same write."""

    def blocking_finalizers(self, obj: dict) -> list:
        """Finalizers kept outside ``metadata.finalizers`` that also hold a deletion open
        (a Namespace's ``spec.finalizers``)."""
        return []

    def create_virtual(self, ctx, namespace: str, obj: dict) -> tuple[int, dict]:
        """POST to a kind with ``stored = False``: compute the answer (e.g. fill a review's
        ``status``) from ``obj`` and the caller (``ctx.user``); returns (HTTP status, body)."""
        raise MethodNotAllowed(f'create is not supported on resources of kind "{self.plural}"')

    def read_virtual(self, ctx, namespace: str, name: str) -> dict:
        """GET ``name`` of a kind with ``stored = False`` and "get" in ``verbs``: compute the
        object now (upstream: a kind whose REST storage is a ``rest.Getter`` over no store,
        such as kubernetes/kubernetes:pkg/registry/core/componentstatus/rest.go).  Raises an
        APIError (NotFound …) when there is none; may add warnings with ``ctx.warn``."""
        raise MethodNotAllowed(f'get is not supported on resources of kind "{self.plural}"')

    def list_virtual(self, ctx, namespace: str) -> list[dict]:
        """LIST of such a kind ("list" in ``verbs``): every object, computed now.  The
        handler applies label and field selectors (``selectable_fields``) afterwards."""
        raise MethodNotAllowed(f'list is not supported on resources of kind "{self.plural}"')

    def generation_changed(self, new: dict, old: dict) -> bool:
        """For kinds that track generation: did this update change the desired state?  By
        default, anything outside ``generation_ignores`` (the spec, for most kinds)."""
        return any(new.get(k) != old.get(k) for k in set(new) | set(old)
                   if k not in self.generation_ignores)

    def canonicalize(self, obj: dict) -> None:
        """Last normalisation before storage (e.g. sort a set-like list)."""

    def grace_period(self, ctx, obj: dict, requested: int | None) -> int:
        """Seconds of graceful deletion for ``obj``; 0 deletes at once (subject to finalizers).

        Most kinds are not graceful (upstream ``CheckGracefulDelete`` returns false)."""
        return 0

    def convert_to_storage(self, obj: dict) -> dict:
        """For a kind with ``storage_version``: this version's object (a deep copy, wire
        form) as the storage version's.  Pure; apiVersion/kind are set by the caller."""
        return obj

    def convert_from_storage(self, obj: dict) -> dict:
        """The inverse: a stored object as this version shows it."""
        return obj

    def decode_stored(self, objs: list[dict]) -> list[dict]:
        """Stored objects (fresh copies, in order) as this storage version reads them: in
        this apiVersion, defaulted.  Only asked when ``decodes_stored``."""
        return objs

    def convert_many_from_storage(self, objs: list[dict]) -> list[dict]:
        """A page of stored objects (fresh copies, in order) as this version shows them;
        one call per list, so a conversion that costs a round trip makes one."""
        return [self.convert_from_storage(obj) for obj in objs]

    def table_row(self, obj: dict) -> list:
        """Cells for ``as=Table``, one per entry of ``columns`` (Name and Age by default)."""
        return [obj["metadata"].get("name", ""), age(obj)]
