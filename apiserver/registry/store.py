"""The generic Store: one implementation of every verb for every kind.

It alone decides the order the Strategy hooks run in (see ``strategy.py``) and translates
storage facts into API errors with the kind's names.  Documents leave as stored JSON text
whenever possible, so reads pass bytes through without re-encoding.

Upstream: k8s.io/apiserver ``pkg/registry/generic/registry/store.go``.

May import: apiserver.runtime, apiserver.storage, apiserver.admission, apiserver.openapi,
apiserver.fieldmanager, apiserver.registry.
"""
from __future__ import annotations

import copy
import time
from datetime import datetime, timedelta, timezone

import orjson

from apiserver.admission.base import Attributes
from apiserver.fieldmanager import update_managed_fields
from apiserver.openapi import definitions
from apiserver.openapi.pruning import prune
from apiserver.openapi.zerovalues import fill_status
from apiserver.registry import meta as metalib
from apiserver.registry.conversion import ConvertingStore
from apiserver.registry.deletion import gc_finalizers, validate_delete_options
from apiserver.registry.context import RequestContext
from apiserver.registry.strategy import Strategy
from apiserver.runtime.scheme import Scheme
from apiserver.registry.listing import encode_continue, parse_rv, plan_list
from apiserver.runtime import errors, validation
from apiserver.runtime.selectors import parse_field_selector, parse_label_selector
from apiserver.storage.base import Compacted, KeyExists, KeyNotFound, RevisionMismatch

MAX_RETRIES = 8            # internal retries of a read-modify-write on a revision race
WAIT_FOR_RV_SECONDS = 3.0  # "too large resource version" grace, as upstream's cacher


class Store:
    def __init__(self, strategy, storage, stores: "StoreRegistry", admission):
        self.strategy = strategy
        self.storage = storage
        self.stores = stores
        self.admission = admission      # the admission chain (admit, validate)
        s = strategy
        self.resource = s.plural + (f".{s.group}" if s.group else "")
        self.schema = definitions.get(s.schema_name) if s.schema_name else None
        self.field_labels = {"metadata.name", "metadata.namespace", *s.selectable_fields}

    # ---- helpers --------------------------------------------------------------------------
    def _ns(self, namespace: str | None) -> str:
        return (namespace or "") if self.strategy.namespaced else ""

    def not_found(self, name: str) -> errors.NotFound:
        return errors.NotFound.for_object(self.strategy.plural, self.strategy.group, name)

    def _conflict(self, name: str) -> errors.Conflict:
        return errors.Conflict.stale(self.strategy.plural, self.strategy.group, name)

    def _invalid(self, name: str, errs: list) -> errors.Invalid:
        return errors.Invalid.for_object(self.strategy.kind, self.strategy.group, name, errs)

    def _wait_for(self, rv: int) -> None:
        deadline = time.monotonic() + WAIT_FOR_RV_SECONDS
        while self.storage.current_revision() < rv:
            if time.monotonic() > deadline:
                current = self.storage.current_revision()
                raise errors.Timeout(
                    f"Too large resource version: {rv}, current: {current}",
                    causes=[errors.Cause("ResourceVersionTooLarge", "Too large resource version")],
                    retry_after=1)
            time.sleep(0.05)

    def check_fields(self, obj: dict, ctx: RequestContext, *, schema=None, kind: str = "",
                     version: str = "") -> None:
        """Drop fields the kind does not declare, as Go's typed decoding does; with
        ``fieldValidation=Strict`` they are a 400, with ``Warn`` a warning header each.
        ``schema``/``kind``/``version`` name another served version of the kind (a
        ConvertingStore checks a body against its own version before converting it)."""
        schema = schema if schema is not None else self.schema
        kind, version = kind or self.strategy.kind, version or self.strategy.version
        type_errors: list = []
        if schema is not None:
            removed = prune(obj, schema, type_errors=type_errors)
        else:
            # a kind without a built-in definition may prune by its own schema (custom
            # resources: ``drop_unknown_fields(obj, version) -> removed paths``, where
            # ``version`` is the one the body was sent in)
            dropper = getattr(self.strategy, "drop_unknown_fields", None)
            if dropper is None:
                return
            removed = dropper(obj, version)
        if type_errors:
            # upstream's transformDecodeError wording (kubernetes/apiserver:
            # pkg/endpoints/handlers/rest.go) around the decoder's own message
            path, got, wanted = type_errors[0]
            cause = wanted if got is None else (f'json: cannot unmarshal {got} into Go struct '
                                                f'field {kind}.{path} of type {wanted}')
            raise errors.BadRequest(f'{kind} in version "{version}" cannot be handled as a '
                                    f'{kind}: {cause}')
        if not removed:
            return
        texts = [f'unknown field "{path}"' for path in removed]
        if ctx.field_validation == "Strict":
            # upstream wording (apimachinery runtime.NewStrictDecodingError via the handler)
            raise errors.BadRequest(f'{kind} in version "{version}" cannot be handled as a '
                                    f'{kind}: strict decoding error: ' + ", ".join(texts))
        if ctx.field_validation == "Warn":
            for text in texts:
                ctx.warn(text)

    def load(self, namespace: str | None, name: str) -> tuple[dict, int]:
        found = self.storage.get(self.resource, self._ns(namespace), name)
        if found is None:
            raise self.not_found(name)
        obj = orjson.loads(found[0])
        if self.strategy.decodes_stored:
            obj = self.strategy.decode_stored([obj])[0]
        return obj, found[1]

    def _decoded(self, docs: list[str]) -> list[str]:
        """Stored documents as this version reads them (``Strategy.decode_stored``), for
        the kinds that ask; the others' text passes through untouched."""
        if not self.strategy.decodes_stored or not docs:
            return docs
        return [orjson.dumps(obj).decode()
                for obj in self.strategy.decode_stored([orjson.loads(d) for d in docs])]

    # ---- reads ----------------------------------------------------------------------------
    def get(self, namespace: str | None, name: str, resource_version: str | None = None) -> str:
        rv = parse_rv(resource_version)
        if rv:
            self._wait_for(rv)
        found = self.storage.get(self.resource, self._ns(namespace), name)
        if found is None:
            raise self.not_found(name)
        return self._decoded([found[0]])[0]

    def event_line(self, event_type: str, ev) -> bytes:
        """One watch event's wire line (the stored text, passed through)."""
        if self.strategy.decodes_stored:
            return orjson.dumps({"type": event_type, "object": self.present(ev.obj)}) + b"\n"
        return ev.line(event_type)

    def present(self, obj: dict) -> dict:
        """A stored object as this Store's version shows it (itself; see ConvertingStore)."""
        if self.strategy.decodes_stored:
            return self.strategy.decode_stored([copy.deepcopy(obj)])[0]
        return obj

    def field_set(self, obj: dict) -> dict:
        """The selectable fields of ``obj`` as strings (upstream ``GetAttrs``)."""
        m = obj.get("metadata", {})
        fields = {"metadata.name": m.get("name", ""), "metadata.namespace": m.get("namespace", "")}
        for label, getter in self.strategy.selectable_fields.items():
            value = getter(obj)
            fields[label] = "" if value is None else str(value)
        return fields

    def matcher(self, label_selector: str | None, field_selector: str | None):
        """A predicate on decoded objects, or None when nothing is selected."""
        labels = parse_label_selector(label_selector or "")
        fields = parse_field_selector(field_selector or "")
        if self.strategy.selectable_fields:
            fields.validate(self.field_labels, self.resource)
        else:
            # kinds without their own field set get the generic wording
            # (apimachinery pkg/registry/generic DefaultClusterScopedAttr / fields.go)
            for label, _op, _value in fields.requirements:
                if label not in self.field_labels:
                    raise errors.BadRequest(f'"{label}" is not a known field selector: only '
                                            '"metadata.name", "metadata.namespace"')
        if labels.empty and fields.empty:
            return None

        def match(obj: dict) -> bool:
            return (labels.matches(obj.get("metadata", {}).get("labels") or {})
                    and fields.matches(self.field_set(obj)))
        return match

    def list(self, namespace: str | None, *, label_selector=None, field_selector=None,
             limit: int = 0, continue_token=None, resource_version=None,
             resource_version_match=None) -> dict:
        """One page: ``{"items": [json text], "resourceVersion": int, "continue": str}``."""
        ns = self._ns(namespace) if (namespace and self.strategy.namespaced) else None
        plan = plan_list(resource_version, resource_version_match, limit, continue_token, ns)
        if plan.min_rv:
            self._wait_for(plan.min_rv)
        match = self.matcher(label_selector, field_selector)
        items: list[str] = []
        after, at = plan.after, plan.at
        while True:
            want = (limit - len(items)) if limit else 0
            try:
                page = self.storage.list(self.resource, ns, after=after,
                                         limit=max(want, 0) if not match else (want and max(want, 500)),
                                         at=at)
            except Compacted as exc:
                raise self._expired(exc, continue_token, after) from None
            at = page.revision
            if match is None:
                items.extend(page.items)
                more, last = page.more, page.last_key
            else:
                more, last = page.more, page.last_key
                for i, doc in enumerate(page.items):
                    if match(orjson.loads(doc)):
                        items.append(doc)
                        if limit and len(items) == limit:
                            # stop here; the token resumes after this item
                            last = _key_of(doc)
                            more = more or i < len(page.items) - 1
                            break
            if not more or (limit and len(items) >= limit) or page.last_key is None:
                break
            after = page.last_key
        token = encode_continue(at, last) if (more and last and limit) else ""
        out = {"items": self._decoded(items), "resourceVersion": at, "continue": token}
        if token and match is None and page.remaining is not None:
            out["remainingItemCount"] = page.remaining
        return out

    def _expired(self, exc: Compacted, continue_token, after) -> errors.Expired:
        """410 for a list below the compacted revision.  For a continue token upstream adds a
        fresh token that resumes at the same key on current data (an "inconsistent" list the
        client may choose to finish); pkg/storage/etcd3/store.go, api/errors NewResourceExpired."""
        if not continue_token or after is None:
            return errors.Expired(f"too old resource version: {exc.requested} ({exc.compacted})")
        err = errors.Expired(
            "The provided continue parameter is too old to display a consistent list result. "
            "You can start a new list without the continue parameter, or use the continue token "
            "in this response to retrieve the remainder of the results. Continuing with the "
            "provided token results in an inconsistent list - objects that were created, "
            "modified, or deleted between the time the first chunk was returned and now may "
            "show up in the list.")
        err.list_meta = {"continue": encode_continue(self.storage.current_revision(), after)}
        return err

    # ---- create ---------------------------------------------------------------------------
    def prepare_create(self, namespace: str | None, obj: dict, ctx: RequestContext) -> dict:
        """Everything before the write: metadata, defaults, admission, validation."""
        s = self.strategy
        self._bind(ctx)
        m = obj.setdefault("metadata", {})
        if not isinstance(m, dict):
            raise errors.BadRequest("metadata must be an object")
        if m.get("resourceVersion"):
            raise errors.BadRequest("resourceVersion should not be set on objects to be created")
        self._check_namespace(namespace, m)
        obj["apiVersion"], obj["kind"] = s.api_version(), s.kind
        self.check_fields(obj, ctx)
        if not m.get("name") and m.get("generateName"):
            m["name"] = metalib.generate_name(m["generateName"])
        metalib.fill_for_create(obj, s.tracks_generation)
        s.default(obj)
        self._admit("CREATE", obj, None, ctx)
        s.prepare_for_create(ctx, obj)
        errs = validation.validate_object_meta(obj.get("metadata", {}), s.namespaced, s.name_rule,
                                               builtin=s.kube_finalizer_names)
        errs += s.validate(ctx, obj)
        if errs:
            raise self._invalid(m.get("name") or m.get("generateName", ""), errs)
        s.canonicalize(obj)
        fill_status(obj, self.schema)
        if not ctx.applying:
            update_managed_fields(None, obj, manager=self._manager(ctx), operation="Update",
                                  api_version=s.api_version(), schema=self.schema,
                                  subresource=ctx.subresource, now=metalib.now_rfc3339())
        self._validate_admission("CREATE", obj, None, ctx)
        return obj

    def create(self, namespace: str | None, obj: dict, ctx: RequestContext) -> str:
        obj = self.prepare_create(namespace, obj, ctx)
        if ctx.dry_run:
            return orjson.dumps(obj).decode()
        doc = self._insert(obj)
        if type(self.strategy).after_create is not Strategy.after_create:
            self.strategy.after_create(ctx, obj)
        return doc

    def _insert(self, obj: dict) -> str:
        m = obj["metadata"]
        generated = m.get("generateName") and m["name"].startswith(m["generateName"][:58])
        for _ in range(MAX_RETRIES if generated else 1):
            try:
                _, doc = self.storage.create(self.resource, self._ns(m.get("namespace")), m["name"], obj)
                return doc
            except KeyExists:
                if not generated:
                    break
                m["name"] = metalib.generate_name(m["generateName"])
        err = errors.AlreadyExists.for_object(self.strategy.plural, self.strategy.group, m["name"])
        if generated:
            err.retry_after = 1
        raise err

    def _check_namespace(self, namespace: str | None, m: dict) -> None:
        if not self.strategy.namespaced:
            if m.get("namespace"):
                m.pop("namespace")   # upstream clears it for cluster-scoped kinds
            return
        if m.get("namespace") and namespace and m["namespace"] != namespace:
            raise errors.BadRequest("the namespace of the provided object does not match the "
                                    "namespace sent on the request")
        if namespace:
            m["namespace"] = namespace

    # ---- update ---------------------------------------------------------------------------
    def update(self, namespace: str | None, name: str, obj: dict, ctx: RequestContext) -> tuple[str, bool]:
        """PUT.  Returns (document, created)."""
        m = obj.setdefault("metadata", {}) if isinstance(obj, dict) else None
        if not isinstance(m, dict):
            raise errors.BadRequest("metadata must be an object")
        if m.get("name") and m["name"] != name:
            raise errors.BadRequest("the name of the object (%s) does not match the name on "
                                    "the URL (%s)" % (m["name"], name))
        m["name"] = name
        wanted = m.get("resourceVersion")
        if not wanted and not self.strategy.allow_unconditional_update:
            raise self._invalid(name, [errors.invalid("metadata.resourceVersion", 0,
                                                      "must be specified for an update")])
        return self.guaranteed_update(namespace, name, lambda current: obj, ctx,
                                      precondition_rv=wanted,
                                      create_missing=self.strategy.allow_create_on_update)

    def guaranteed_update(self, namespace, name, transform, ctx: RequestContext, *,
                          precondition_rv: str | None = None, create_missing: bool = False,
                          ) -> tuple[str, bool]:
        """Read-modify-write with internal retries on revision races.

        ``transform(current_or_None) -> new object`` builds the desired object from a deep
        copy of the current one (None when missing and ``create_missing``).  When the client
        named a resourceVersion (``precondition_rv``), a mismatch is a 409 instead of a retry.
        """
        s = self.strategy
        self._bind(ctx)
        ns = self._ns(namespace)
        for _ in range(MAX_RETRIES):
            found = self.storage.get(self.resource, ns, name)
            if found is None:
                if not create_missing:
                    raise self.not_found(name)
                new = transform(None)
                new.setdefault("metadata", {})["name"] = name
                new["metadata"].pop("resourceVersion", None)
                obj = self.prepare_create(namespace, new, ctx)
                if ctx.dry_run:
                    return orjson.dumps(obj).decode(), True
                try:
                    return self._insert(obj), True
                except errors.AlreadyExists:
                    continue
            old_doc, old_rv = found
            old = orjson.loads(old_doc)
            new = transform(orjson.loads(old_doc))
            if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
                raise errors.BadRequest("the object must be a JSON object with object metadata")
            # Only a resourceVersion the client chose is a precondition; the one a patch
            # transform carries over from the current object is not (patches retry).
            rv_text = precondition_rv
            if rv_text and str(rv_text) != str(old_rv):
                raise self._conflict(name)
            new_doc = self._prepare_update(ns, name, new, old, ctx)
            if new_doc is None:
                return old_doc, False          # no-op: nothing written, no event
            if ctx.dry_run:
                return orjson.dumps(new_doc).decode(), False
            if self._finished_deleting(new_doc) and not s.blocking_finalizers(new_doc):
                try:
                    _, doc = self.storage.delete(self.resource, ns, name, old_rv)
                    return doc, False
                except RevisionMismatch:
                    continue
                except KeyNotFound:
                    raise self.not_found(name) from None
            try:
                _, doc = self.storage.update(self.resource, ns, name, new_doc, old_rv)
                return doc, False
            except RevisionMismatch:
                if rv_text:
                    raise self._conflict(name) from None
                continue
            except KeyNotFound:
                raise self.not_found(name) from None
        raise self._conflict(name)

    def _prepare_update(self, ns: str, name: str, new: dict, old: dict, ctx) -> dict | None:
        s = self.strategy
        m = new.setdefault("metadata", {})
        m["name"] = name
        if s.namespaced:
            if m.get("namespace") and m["namespace"] != ns:
                raise errors.BadRequest("the namespace of the provided object does not match "
                                        "the namespace sent on the request")
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
        new["apiVersion"], new["kind"] = s.api_version(), s.kind
        self.check_fields(new, ctx)
        metalib.carry_for_update(new, old, s.generation_ignores, False)
        s.default(new)
        self._admit("UPDATE", new, old, ctx)
        if ctx.subresource == "status":
            s.prepare_for_status_update(ctx, new, old)
        else:
            s.prepare_for_update(ctx, new, old)
        # a /status write never moves generation: upstream bumps it only in the main
        # resource's PrepareForUpdate (e.g. a Deployment's annotations, which the deployment
        # controller's UpdateStatus also writes: pkg/registry/apps/deployment/strategy.go)
        metalib.carry_for_update(new, old, s.generation_ignores, s.tracks_generation,
                                 _unchanged if ctx.subresource == "status"
                                 else s.generation_changed)
        errs = validation.validate_object_meta(m, s.namespaced, s.name_rule,
                                               builtin=s.kube_finalizer_names)
        errs += validation.validate_object_meta_update(m, old.get("metadata", {}),
                                                        builtin=s.kube_finalizer_names)
        errs += (s.validate_status_update(ctx, new, old) if ctx.subresource == "status"
                 else s.validate_update(ctx, new, old))
        if errs:
            raise self._invalid(name, errs)
        s.canonicalize(new)
        fill_status(new, self.schema)
        if not ctx.applying:
            update_managed_fields(old, new, manager=self._manager(ctx), operation="Update",
                                  api_version=s.api_version(), schema=self.schema,
                                  subresource=ctx.subresource, now=metalib.now_rfc3339())
        if metalib.same_content(new, old):
            return None
        self._validate_admission("UPDATE", new, old, ctx)
        return new

    @staticmethod
    def _finished_deleting(obj: dict) -> bool:
        m = obj.get("metadata", {})
        return bool(m.get("deletionTimestamp")) and not m.get("finalizers") \
            and not m.get("deletionGracePeriodSeconds")

    # ---- delete ---------------------------------------------------------------------------
    def delete(self, namespace: str | None, name: str, options: dict,
               ctx: RequestContext) -> tuple[str, bool]:
        """DELETE: immediate, or graceful/finalized (deletionTimestamp set, object stays).

        Returns (document, gone): ``gone`` is True when the object was removed from storage
        (or, for a dry run, would have been), False while finalizers or a grace period keep
        it (upstream ``rest.GracefulDeleter.Delete`` returns the same pair)."""
        s = self.strategy
        self._bind(ctx)
        ns = self._ns(namespace)
        validate_delete_options(options)
        pre = options.get("preconditions") or {}
        for _ in range(MAX_RETRIES):
            obj, rv = self.load(ns, name)
            m = obj["metadata"]
            if pre.get("uid") and pre["uid"] != m.get("uid"):
                raise errors.Conflict.for_object(
                    s.plural, s.group, name,
                    f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {m.get('uid')}")
            if pre.get("resourceVersion") and str(pre["resourceVersion"]) != str(rv):
                raise errors.Conflict.for_object(
                    s.plural, s.group, name,
                    f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                    f"ResourceVersion in object meta: {rv}")
            self._validate_admission("DELETE", None, obj, ctx)
            grace = s.grace_period(ctx, obj, options.get("gracePeriodSeconds"))
            pending_grace = m.get("deletionGracePeriodSeconds") or 0
            if m.get("deletionTimestamp") and 0 < pending_grace <= grace:
                # a graceful deletion is under way: upstream's BeforeDelete lets a DELETE
                # only shorten it, and changes no finalizer then
                return self.storage.get(self.resource, ns, name)[0], False
            changed, finalizers = gc_finalizers(s, m, options)
            if not finalizers and grace <= 0 and not s.blocking_finalizers(obj):
                if ctx.dry_run:
                    return orjson.dumps(obj).decode(), True
                try:
                    _, doc = self.storage.delete(self.resource, ns, name, rv)
                except RevisionMismatch:
                    continue
                except KeyNotFound:
                    raise self.not_found(name) from None
                return doc, True
            if m.get("deletionTimestamp") and pending_grace <= grace:
                # finalizers already hold it: this DELETE may only change the garbage
                # collector's finalizers (updateForGracefulDeletionAndFinalizers)
                if not changed:
                    return self.storage.get(self.resource, ns, name)[0], False
                m["finalizers"] = finalizers
                if ctx.dry_run:
                    return orjson.dumps(obj).decode(), False
                try:
                    return self.storage.update(self.resource, ns, name, obj, rv)[1], False
                except RevisionMismatch:
                    continue
                except KeyNotFound:
                    raise self.not_found(name) from None
            m["deletionTimestamp"] = metalib.now_rfc3339() if grace <= 0 else _after(grace)
            m["deletionGracePeriodSeconds"] = max(grace, 0)
            m["finalizers"] = finalizers
            s.prepare_for_delete(ctx, obj)
            if ctx.dry_run:
                return orjson.dumps(obj).decode(), False
            try:
                _, doc = self.storage.update(self.resource, ns, name, obj, rv)
            except RevisionMismatch:
                continue
            except KeyNotFound:
                raise self.not_found(name) from None
            return doc, False
        raise self._conflict(name)

    def delete_collection(self, namespace, options: dict, ctx: RequestContext, *,
                          label_selector=None, field_selector=None) -> list[str]:
        page = self.list(namespace, label_selector=label_selector, field_selector=field_selector)
        done = []
        for doc in page["items"]:
            obj = orjson.loads(doc)
            try:
                done.append(self.delete(obj["metadata"].get("namespace"), obj["metadata"]["name"],
                                        options, ctx)[0])
            except errors.NotFound:
                pass
        return done

    # ---- admission ------------------------------------------------------------------------
    def _bind(self, ctx: RequestContext) -> None:
        """Hooks read other kinds through ``ctx.stores``: the registry this Store serves in."""
        if ctx.stores is None:
            ctx.stores = self.stores

    def _attrs(self, operation, obj, old, ctx):
        s = self.strategy
        m = (obj or old or {}).get("metadata", {})
        served = ctx.served_as
        # another kind written under the same request is not "served as"; the resource
        # name is what a served version shares with its storage (events.k8s.io events are
        # stored as core events: the groups differ)
        if served is not None and served[3] != s.plural:
            served = None
        return Attributes(
            operation=operation, group=s.group, version=s.version, kind=s.kind,
            resource=s.plural, subresource=ctx.subresource, namespace=m.get("namespace", ""),
            name=m.get("name", ""), obj=obj, old=old, user=ctx.user, dry_run=ctx.dry_run,
            warnings=ctx.warnings, uid=ctx.uid, request=served)

    def _admit(self, operation, obj, old, ctx):
        self.admission.admit(self._attrs(operation, obj, old, ctx))

    def _validate_admission(self, operation, obj, old, ctx):
        self.admission.validate(self._attrs(operation, obj, old, ctx))

    @staticmethod
    def _manager(ctx: RequestContext) -> str:
        return ctx.field_manager or "unknown"


def _unchanged(new: dict, old: dict) -> bool:
    return False


def _key_of(doc: str) -> tuple[str, str]:
    m = orjson.loads(doc)["metadata"]
    return m.get("namespace", ""), m["name"]


def _after(seconds: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


class StoreRegistry:
    """The Stores a server process serves, one per installed resource.

    Each GenericAPIServer installs its kinds here (:meth:`install`): the registry makes the
    strategy instance, hands it what it asks for (``initializer``) and builds its Store over
    the storage ``storage_for(resource)`` names.  Hooks and in-process controllers reach other
    kinds through it, as upstream's reach them through the loopback client.
    """

    def __init__(self, storage_for, admission, initializer=None):
        self.storage_for = storage_for          # resource ("pods", "roles.rbac…") -> Storage
        self.admission = admission
        self.initializer = initializer
        self.index = Scheme()                   # the installed strategy instances
        self._stores: dict = {}

    def install(self, strategy_cls, *, group_priority: int = 0):
        """Build and index the Store of one kind.  A kind served in a version other than its
        storage version (``storage_version``) gets a ConvertingStore over the storage
        version's Store, which must be installed first."""
        strategy = strategy_cls()
        if self.initializer is not None:
            self.initializer.initialize(strategy)
        if strategy.storage_version and tuple(strategy.storage_version) != (strategy.group,
                                                                             strategy.version):
            inner = self.store(*strategy.storage_version, strategy.plural)
            if inner is None:
                raise ValueError(f"{strategy_cls.__name__}: storage version "
                                 f"{'/'.join(strategy.storage_version)} is not installed")
            store = ConvertingStore(strategy, inner)
        else:
            resource = strategy.plural + (f".{strategy.group}" if strategy.group else "")
            store = Store(strategy, self.storage_for(resource), self, self.admission)
        self.index.add(strategy, group_priority=group_priority)
        # copy on write: kinds are installed and removed while requests read (custom resources)
        self._stores = {**self._stores, (strategy.group, strategy.version, strategy.plural): store}
        return store

    def uninstall(self, group: str, version: str, resource: str) -> None:
        """Stop serving one kind (a custom resource whose definition changed or went away);
        its objects stay in storage."""
        store = self._stores.get((group, version, resource))
        if store is None:
            return
        self._stores = {k: v for k, v in self._stores.items() if k != (group, version, resource)}
        self.index.unregister(type(store.strategy))

    def store(self, group: str, version: str, resource: str) -> Store | None:
        return self._stores.get((group, version, resource))

    def all(self) -> list[Store]:
        return list(self._stores.values())
