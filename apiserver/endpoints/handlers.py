"""The resource endpoint: every verb on every group/version/resource URL.

One DRF view serves them all: the URL was already parsed into a ``RequestInfo`` by the
request-info filter, the Scheme names the Strategy, and the generic Store does the work.
This module only decodes, picks the Store call, and encodes (upstream:
kubernetes/apiserver:pkg/endpoints/handlers/{get,create,update,patch,delete}.go).  The
Stores are those of the server that routed the request here (``scope["k8s.server"]``); errors
raised anywhere below become ``Status`` bodies in the DRF exception handler
(``exceptions.status_exception_handler``), nowhere else.
"""
from __future__ import annotations

import orjson
from rest_framework.views import APIView

from apiserver.endpoints import negotiation, patching, scale
from apiserver.endpoints.decoding import check_kind, decode_request
from apiserver.endpoints.patch.jsonpatch import apply_json_patch
from apiserver.endpoints.patch.mergepatch import apply_merge_patch
from apiserver.registry.context import RequestContext
from apiserver.registry.deletion import validate_delete_options
from apiserver.runtime import errors
from apiserver.runtime.selectors import parse_bool
from apiserver.runtime.validation import is_path_segment_name
from apiserver.runtime.serialization import loads_any

_NOT_FOUND = "the server could not find the requested resource"


def _q(request, key, default=None):
    return request.GET.get(key, default)


def _int_q(request, key) -> int | None:
    value = request.GET.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.BadRequest(f'invalid value for {key}: "{value}"') from None


class ResourceView(APIView):
    """GET/POST/PUT/PATCH/DELETE on /api/v1/… and /apis/<group>/<version>/…"""

    # ---- resolution -----------------------------------------------------------------------
    def _resolve(self, request):
        scope = request._request.scope
        info = scope["k8s.request_info"]
        server = scope["k8s.server"]
        store = server.store(info.api_group, info.api_version, info.resource)
        if store is None or not info.is_resource_request:
            raise errors.NotFound(_NOT_FOUND)
        s = store.strategy
        if len(info.parts) > 3:
            raise errors.NotFound(_NOT_FOUND)
        sub = s.subresource(info.subresource) if info.subresource else None
        if info.subresource and sub is None:
            raise errors.NotFound(_NOT_FOUND)
        if info.verb not in (sub.verbs if sub is not None else s.verbs):
            # e.g. GET on selfsubjectaccessreviews or pods/NAME/binding (create-only)
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        if s.namespaced and info.url_name and not info.namespace:
            raise errors.NotFound(_NOT_FOUND)
        if not s.namespaced and info.namespace and info.resource != "namespaces":
            raise errors.NotFound(_NOT_FOUND)
        for what, value in (("namespace", info.namespace), ("name", info.url_name)):
            problems = is_path_segment_name(value) if value else []
            if value and any(ord(c) < 0x20 or c == "\x7f" for c in value):
                problems.append("may not contain control characters")
            if problems:
                # a bad name or namespace must never widen a read (upstream: the name check in
                # kubernetes/apiserver:pkg/registry/generic/registry/store.go and the ".." key
                # check in kubernetes/apiserver:pkg/storage/etcd3/store.go): refuse the URL outright
                raise errors.BadRequest(f'invalid {what} "{value}" in the request URL: '
                                        + "; ".join(problems))
        ctx = RequestContext(user=scope.get("k8s.user"), subresource=info.subresource,
                             verb=info.verb, namespace=info.namespace,
                             stores=server.config.stores)
        # a deprecated version warns on every request (a kind's ``deprecation_warnings``:
        # custom resources, kubernetes/apiextensions-apiserver customresource_handler.go)
        for text in getattr(s, "deprecation_warnings", ()):
            ctx.warn(text)
        return info, store, ctx

    def _write_options(self, request, ctx: RequestContext) -> None:
        dry = request.GET.getlist("dryRun")
        for value in dry:
            if value != "All":
                raise errors.BadRequest(f'Invalid dryRun: "{value}": supported values: "All"')
        ctx.dry_run = bool(dry)
        fv = _q(request, "fieldValidation") or "Warn"
        if fv not in ("Ignore", "Warn", "Strict"):
            raise errors.BadRequest(f'fieldValidation: Unsupported value: "{fv}": supported '
                                    'values: "Ignore", "Strict", "Warn"')
        ctx.field_validation = fv
        manager = _q(request, "fieldManager")
        if manager is None:
            agent = request.META.get("HTTP_USER_AGENT", "")
            manager = agent.split("/")[0] if agent else ""
        if len(manager) > patching.MAX_MANAGER:
            raise errors.BadRequest("fieldManager: Too long: must have at most 128 bytes")
        ctx.field_manager = manager

    def _body(self, request, store, ctx, *, require_kind=True) -> dict:
        s = store.strategy
        if ctx.subresource == "scale":
            expected = ("autoscaling", "v1", "Scale")
        else:
            expected = (s.group, s.version, s.kind)
        obj = decode_request(request, expected)
        if not isinstance(obj, dict):
            raise errors.BadRequest("the object provided is not a JSON object")
        check_kind(obj, expected, request._request.scope["k8s.server"].merged_index)
        return obj

    def _accept(self, request) -> str:
        return request.META.get("HTTP_ACCEPT", "")

    # ---- verbs ----------------------------------------------------------------------------
    def get(self, request, *args, **kwargs):
        info, store, ctx = self._resolve(request)
        accept = self._accept(request)
        if info.verb == "watch":
            raise errors.MethodNotAllowed("watch is not supported by this server yet")
        if not store.strategy.stored:
            return self._get_virtual(request, info, store, ctx, accept)
        if info.url_name:
            doc = store.get(info.namespace, info.name, _q(request, "resourceVersion"))
            if info.subresource == "scale":
                return negotiation.respond(scale.to_scale(store.strategy.scale_spec(),
                                                          orjson.loads(doc)), accept=accept,
                                           warnings=ctx.warnings)
            if negotiation.wants_table(accept):
                obj = orjson.loads(doc)
                return negotiation.respond(negotiation.table(
                    store.strategy, [obj], obj["metadata"].get("resourceVersion", ""),
                    include=negotiation.include_object(_q(request, "includeObject"))),
                    warnings=ctx.warnings)
            return negotiation.respond(doc, accept=accept, warnings=ctx.warnings)
        page = store.list(info.namespace or None,
                          label_selector=_q(request, "labelSelector"),
                          field_selector=_q(request, "fieldSelector"),
                          limit=_int_q(request, "limit") or 0,
                          continue_token=_q(request, "continue"),
                          resource_version=_q(request, "resourceVersion"),
                          resource_version_match=_q(request, "resourceVersionMatch"))
        if negotiation.wants_table(accept):
            objects = [orjson.loads(d) for d in page["items"]]
            return negotiation.respond(negotiation.table(
                store.strategy, objects, str(page["resourceVersion"]), page["continue"],
                include=negotiation.include_object(_q(request, "includeObject"))),
                warnings=ctx.warnings)
        return negotiation.respond(negotiation.list_body(store.strategy, page), accept=accept,
                                   warnings=ctx.warnings)

    def _get_virtual(self, request, info, store, ctx, accept):
        """Reads of a kind computed on request, not stored (``stored = False`` with "get" or
        "list" in its verbs, e.g. ComponentStatus; ``_resolve`` already refused other
        verbs): the strategy's ``read_virtual``/``list_virtual`` answer, selectors filter a
        list, and the warnings the strategy added ride along."""
        s = store.strategy
        if info.url_name:
            objects = [s.read_virtual(ctx, info.namespace, info.url_name)]
        else:
            match = store.matcher(_q(request, "labelSelector"), _q(request, "fieldSelector"))
            objects = [o for o in s.list_virtual(ctx, info.namespace)
                       if match is None or match(o)]
        if negotiation.wants_table(accept):
            body = negotiation.table(
                s, objects, include=negotiation.include_object(_q(request, "includeObject")))
        elif info.url_name:
            body = objects[0]
        else:
            body = {"kind": s.list_kind(), "apiVersion": s.api_version(), "metadata": {},
                    "items": objects}
        return negotiation.respond(body, accept=accept, warnings=ctx.warnings)

    def post(self, request, *args, **kwargs):
        info, store, ctx = self._resolve(request)
        self._write_options(request, ctx)
        if info.name and not info.subresource:
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        if info.subresource:
            obj = decode_request(request, None)
            if not isinstance(obj, dict):
                raise errors.BadRequest("the object provided is not a JSON object")
            sub = store.strategy.subresource(info.subresource)
            code, body = sub.create(ctx, store, info.namespace, info.name, obj)
            return negotiation.respond(body, status=code, accept=self._accept(request))
        obj = self._body(request, store, ctx)
        if not store.strategy.stored:
            code, body = store.strategy.create_virtual(ctx, info.namespace, obj)
            return negotiation.respond(body, status=code, accept=self._accept(request))
        doc = store.create(info.namespace or None, obj, ctx)
        return negotiation.respond(doc, status=201, accept=self._accept(request),
                                   warnings=ctx.warnings)

    def put(self, request, *args, **kwargs):
        info, store, ctx = self._resolve(request)
        self._write_options(request, ctx)
        if not info.name:
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        obj = self._body(request, store, ctx)
        if info.subresource == "scale":
            wanted = (obj.get("metadata") or {}).get("resourceVersion")
            spec = store.strategy.scale_spec()
            doc, _ = store.guaranteed_update(
                info.namespace, info.name, lambda cur: scale.apply_scale(spec, cur, obj),
                ctx, precondition_rv=wanted)
            return negotiation.respond(scale.to_scale(spec, orjson.loads(doc)),
                                       accept=self._accept(request), warnings=ctx.warnings)
        doc, created = store.update(info.namespace, info.name, obj, ctx)
        return negotiation.respond(doc, status=201 if created else 200,
                                   accept=self._accept(request), warnings=ctx.warnings)

    def patch(self, request, *args, **kwargs):
        info, store, ctx = self._resolve(request)
        self._write_options(request, ctx)
        if not info.name:
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        content_type = request.META.get("CONTENT_TYPE", "")
        _validate_patch_options(request, content_type)
        force = parse_bool(_q(request, "force")) if _q(request, "force") else False
        if info.subresource == "scale":
            doc = self._patch_scale(request, info, store, ctx, content_type)
            return negotiation.respond(doc, accept=self._accept(request), warnings=ctx.warnings)
        doc, created = patching.patch(store, info.namespace, info.name, content_type,
                                      request.body, ctx, force=force)
        return negotiation.respond(doc, status=201 if created else 200,
                                   accept=self._accept(request), warnings=ctx.warnings)

    def _patch_scale(self, request, info, store, ctx, content_type) -> dict:
        body = loads_any(request.body, "application/json")
        spec = store.strategy.scale_spec()

        def transform(current):
            current_scale = scale.to_scale(spec, current)
            if content_type.startswith(patching.JSON_PATCH):
                new_scale = apply_json_patch(current_scale, body)
            else:
                new_scale = apply_merge_patch(current_scale, body)
            return scale.apply_scale(spec, current, new_scale)
        doc, _ = store.guaranteed_update(info.namespace, info.name, transform, ctx)
        return scale.to_scale(spec, orjson.loads(doc))

    def delete(self, request, *args, **kwargs):
        info, store, ctx = self._resolve(request)
        self._write_options(request, ctx)
        options = {}
        if request.body.strip():
            options = decode_request(request, ("meta.k8s.io", "v1", "DeleteOptions"))
            if not isinstance(options, dict):
                raise errors.BadRequest("DeleteOptions must be a JSON object")
            if options.get("dryRun"):
                ctx.dry_run = True
        grace = _int_q(request, "gracePeriodSeconds")
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        if _q(request, "propagationPolicy"):
            options["propagationPolicy"] = _q(request, "propagationPolicy")
        orphan = _q(request, "orphanDependents")
        if orphan not in (None, ""):
            options["orphanDependents"] = orphan.lower() == "true"
        # upstream ValidateDeleteOptions: a 422 before anything is deleted (a collection
        # with no items included)
        validate_delete_options(options)
        if info.name:
            doc, gone = store.delete(info.namespace, info.name, options, ctx)
            obj = orjson.loads(doc)
            if not gone or store.strategy.return_deleted_object:
                return negotiation.respond(doc, accept=self._accept(request),
                                           warnings=ctx.warnings)
            # upstream: a finished delete answers Status Success unless the kind sets
            # ReturnDeletedObject (pkg/registry/generic/registry/store.go)
            return negotiation.respond(_deleted_status(store.strategy, obj),
                                       accept=self._accept(request), warnings=ctx.warnings)
        docs = store.delete_collection(info.namespace or None, options, ctx,
                                       label_selector=_q(request, "labelSelector"),
                                       field_selector=_q(request, "fieldSelector"))
        page = {"items": docs, "resourceVersion": store.storage.current_revision(), "continue": ""}
        return negotiation.respond(negotiation.list_body(store.strategy, page),
                                   accept=self._accept(request), warnings=ctx.warnings)


def _deleted_status(strategy, obj: dict) -> dict:
    m = obj.get("metadata", {})
    details = {"name": m.get("name", "")}
    if strategy.group:
        details["group"] = strategy.group
    details["kind"], details["uid"] = strategy.plural, m.get("uid", "")
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}


def _validate_patch_options(request, content_type: str) -> None:
    """Upstream ``ValidatePatchOptions`` (kubernetes/apimachinery:pkg/apis/meta/v1/
    validation/validation.go): ``force`` only with apply; apply names its field manager
    itself (never defaulted from the User-Agent)."""
    errs = []
    if content_type.split(";")[0].strip().lower() != patching.APPLY_YAML:
        if _q(request, "force") is not None:
            errs.append(errors.forbidden("force", "may not be specified for non-apply patch"))
    elif not _q(request, "fieldManager"):
        errs.append(errors.required("fieldManager", "is required for apply patch"))
    if errs:
        raise errors.Invalid.for_object("PatchOptions", "meta.k8s.io", "", errs)
