"""The /openapi/v3 documents: one OpenAPI 3.0 document per group-version, and the root index.

kubectl reads them for three things (kubernetes/cli-runtime:pkg/resource/query_param_verifier_v3.go,
kubernetes/kubectl:pkg/cmd/apply/patcher.go, kubernetes/kubectl:pkg/explain/v2/templates/plaintext.tmpl):

* whether the PATCH operation of a kind (found by its ``x-kubernetes-group-version-kind``)
  has a ``fieldValidation`` query parameter among the *operation's own* parameters, in
  which case it sends ``fieldValidation=Strict`` and skips client-side validation;
* whether that PATCH accepts ``application/strategic-merge-patch+json``, in which case it
  computes a strategic merge patch from ``components.schemas`` (patch merge keys,
  strategies, list types);
* ``kubectl explain``, which finds the kind's schema in ``components.schemas`` by its
  ``x-kubernetes-group-version-kind`` list.

Paths and operation ids follow kube-apiserver: ``readCoreV1NamespacedPod``,
``listAppsV1DeploymentForAllNamespaces``, ``patchAppsV1NamespacedDeploymentScale`` ...
Parameters are written inline (kubectl only resolves ``#/parameters/`` references).
Built-in kinds offer strategic merge patch; kinds without a built-in definition (custom
resources) do not, as upstream.  A strategy may carry an ``openapi_schema`` attribute (an
OpenAPI 3 schema dict whose references point at ``#/components/schemas/``) to describe a
kind that has no built-in definition.

Documents are serialized with sorted keys, so the bytes, and their SHA-512 (the ``hash``
in the root's ``serverRelativeURL`` and the ETag), are stable for a given scheme.

May import: apiserver.openapi (definitions, schemas) and orjson.  Pure: no Django.
"""
from __future__ import annotations

import hashlib
import re
import threading

import orjson

from apiserver.openapi import definitions, schemas

OPENAPI_VERSION = "3.0.0"
INFO = {"title": "Kubernetes", "version": "v" + definitions.KUBERNETES_VERSION}

JSON = "application/json"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
WATCH_STREAM = "application/json;stream=watch"

# ---- parameters -----------------------------------------------------------------------------

def _query(name: str, description: str, type_: str = "string") -> dict:
    return {"name": name, "in": "query", "description": description,
            "schema": {"type": type_, "uniqueItems": True}}


def _path_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "description": description, "required": True,
            "schema": {"type": "string", "uniqueItems": True}}


NAMESPACE = _path_param("namespace", "object name and auth scope, such as for teams and projects")
PRETTY = _query("pretty", "If 'true', the output is pretty printed.")
DRY_RUN = _query("dryRun", "When present, the modification is not persisted. The only valid "
                           "value is All: every stage of the request is processed.")
FIELD_MANAGER = _query("fieldManager", "The name of the actor making these changes, used to "
                                       "track field ownership. Required for apply patches.")
FIELD_VALIDATION = _query(
    "fieldValidation", "How the server treats fields of the request body that the schema does "
                       "not declare, and duplicate fields: Ignore drops them silently, Warn "
                       "drops them with a warning header per field (the default), Strict "
                       "rejects the request with a BadRequest listing them.")
FORCE = _query("force", "Re-acquire fields owned by other managers on a conflicting apply "
                        "request. Must be unset for other patch types.", "boolean")
GRACE_PERIOD = _query("gracePeriodSeconds", "Seconds before the object is deleted; 0 deletes "
                                            "immediately. Defaults to the kind's own value.",
                      "integer")
IGNORE_STORE_READ_ERROR = _query(
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "Delete an object whose stored form cannot be read. Dangerous; off by default.", "boolean")
ORPHAN = _query("orphanDependents", "Deprecated: use propagationPolicy. Whether dependents are "
                                    "orphaned instead of garbage collected.", "boolean")
PROPAGATION = _query("propagationPolicy", "Whether and how garbage collection handles "
                                          "dependents: Orphan, Background or Foreground.")
ALLOW_BOOKMARKS = _query("allowWatchBookmarks", "Ask for BOOKMARK watch events; servers may "
                                                "ignore the request.", "boolean")
CONTINUE = _query("continue", "The continue token of a previous paged list response; the "
                              "next page is returned.")
FIELD_SELECTOR = _query("fieldSelector", "Restrict the returned objects by their fields. "
                                         "Defaults to everything.")
LABEL_SELECTOR = _query("labelSelector", "Restrict the returned objects by their labels. "
                                         "Defaults to everything.")
LIMIT = _query("limit", "The maximum number of objects a list response returns; when more "
                        "exist, metadata.continue is set.", "integer")
RESOURCE_VERSION = _query("resourceVersion", "Constrain which resource versions a request "
                                             "may be served from. Defaults to unset.")
RESOURCE_VERSION_MATCH = _query("resourceVersionMatch", "How resourceVersion applies to list "
                                                        "calls: Exact or NotOlderThan.")
SEND_INITIAL_EVENTS = _query("sendInitialEvents", "With watch=true, begin the stream with "
                                                  "synthetic events for the current state.",
                             "boolean")
TIMEOUT_SECONDS = _query("timeoutSeconds", "Timeout of the list or watch call, regardless of "
                                           "activity.", "integer")
WATCH = _query("watch", "Watch for changes to the described resources and return them as a "
                        "stream of add, update and remove notifications.", "boolean")

_LIST_PARAMS = [ALLOW_BOOKMARKS, CONTINUE, FIELD_SELECTOR, LABEL_SELECTOR, LIMIT,
                RESOURCE_VERSION, RESOURCE_VERSION_MATCH, SEND_INITIAL_EVENTS, TIMEOUT_SECONDS]
_WRITE_PARAMS = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
_DELETE_PARAMS = [DRY_RUN, GRACE_PERIOD, IGNORE_STORE_READ_ERROR, ORPHAN, PROPAGATION]
_DELETECOLLECTION_PARAMS = [CONTINUE, DRY_RUN, FIELD_SELECTOR, GRACE_PERIOD,
                            IGNORE_STORE_READ_ERROR, LABEL_SELECTOR, LIMIT, ORPHAN, PROPAGATION,
                            RESOURCE_VERSION, RESOURCE_VERSION_MATCH, SEND_INITIAL_EVENTS,
                            TIMEOUT_SECONDS]


# ---- naming -----------------------------------------------------------------------------------

def _camel(text: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[.\-]", text) if p)


def _group_ident(group: str) -> str:
    """``Core``, ``Apps``, ``RbacAuthorization``, ``ExampleCom`` (operation-id form)."""
    if not group:
        return "Core"
    return _camel(group[:-len(".k8s.io")] if group.endswith(".k8s.io") else group)


def _tag(group: str, version: str) -> str:
    ident = _group_ident(group)
    return f"{ident[:1].lower()}{ident[1:]}_{version}"


def _generated_name(group: str, version: str, kind: str) -> str:
    """Upstream's name for a kind without a Go definition: reversed group, version, kind."""
    return ".".join(list(reversed(group.split("."))) + [version, kind]) if group \
        else f"core.{version}.{kind}"


def gv_path(group: str, version: str) -> str:
    """``api/v1`` or ``apis/<group>/<version>``: the document's key in the root index."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _gvk(group: str, version: str, kind: str) -> dict:
    return {"group": group, "version": version, "kind": kind}


# ---- schemas for one kind -------------------------------------------------------------------------

def _generic_schema(strategy, list_of: str | None = None) -> dict:
    """A permissive schema for a kind without a built-in definition (or its list)."""
    kind = strategy.kind + ("List" if list_of else "")
    props = {
        "apiVersion": {"type": "string", "description": "APIVersion of this object."},
        "kind": {"type": "string", "description": "Kind of this object."},
        "metadata": {"allOf": [schemas.ref(schemas.LIST_META if list_of else schemas.OBJECT_META)],
                     "description": "Standard " + ("list " if list_of else "object ") + "metadata."},
    }
    schema = {"type": "object", "description": f"{kind} ({strategy.api_version()})",
              "properties": props,
              "x-kubernetes-group-version-kind": [_gvk(strategy.group, strategy.version, kind)]}
    if list_of:
        props["items"] = {"type": "array", "items": schemas.ref(list_of),
                          "description": f"List of {strategy.plural}."}
        schema["required"] = ["items"]
    else:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def _kind_schemas(strategy, extra: dict[str, dict]) -> tuple[str, str, bool]:
    """``(object schema name, list schema name, built-in)``; fills ``extra`` as needed."""
    name = strategy.schema_name
    if name and schemas.is_builtin(name):
        list_name = name + "List"
        if not schemas.is_builtin(list_name):
            list_name = _generated_name(strategy.group, strategy.version, strategy.list_kind())
            extra[list_name] = _generic_schema(strategy, list_of=name)
        return name, list_name, True
    name = name or _generated_name(strategy.group, strategy.version, strategy.kind)
    own = getattr(strategy, "openapi_schema", None)
    extra[name] = own if isinstance(own, dict) else _generic_schema(strategy)
    list_name = _generated_name(strategy.group, strategy.version, strategy.list_kind())
    extra[list_name] = _generic_schema(strategy, list_of=name)
    return name, list_name, False


# ---- operations -----------------------------------------------------------------------------

def _response(description: str, schema_name: str, watch: bool = False) -> dict:
    content = {JSON: {"schema": schemas.ref(schema_name)}}
    if watch:
        content[WATCH_STREAM] = {"schema": schemas.ref(schema_name)}
    return {"description": description, "content": content}


_UNAUTHORIZED = {"description": "Unauthorized"}


def _body(schema_name: str, required: bool = True) -> dict:
    body = {"content": {JSON: {"schema": schemas.ref(schema_name)}}}
    if required:
        body["required"] = True
    return body


def _patch_body(strategic: bool) -> dict:
    types = [APPLY_PATCH, JSON_PATCH, MERGE_PATCH] + ([STRATEGIC_MERGE_PATCH] if strategic else [])
    return {"content": {t: {"schema": schemas.ref(schemas.PATCH)} for t in types},
            "required": True}


def _op(op_id, description, action, gvk, tag, params, responses, body=None) -> dict:
    op = {"operationId": op_id, "description": description, "tags": [tag],
          "responses": dict(responses, **{"401": _UNAUTHORIZED}),
          "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
    if params:
        op["parameters"] = list(params)
    if body is not None:
        op["requestBody"] = body
    return op


def _resource_paths(strategy, prefix: str, extra: dict[str, dict]) -> tuple[dict, set[str]]:
    """Path items of one resource (and its subresources); also the schema names used."""
    g, v, kind = strategy.group, strategy.version, strategy.kind
    verbs = set(strategy.verbs)
    obj, lst, builtin = _kind_schemas(strategy, extra)
    used = {obj, lst, schemas.STATUS}
    tag = _tag(g, v)
    ident = _group_ident(g) + _camel(v)
    scope = "Namespaced" if strategy.namespaced else ""
    gvk = _gvk(g, v, kind)
    paths: dict[str, dict] = {}

    base = f"{prefix}/namespaces/{{namespace}}/{strategy.plural}" if strategy.namespaced \
        else f"{prefix}/{strategy.plural}"
    scope_params = [NAMESPACE] if strategy.namespaced else []

    # collection: list, create, deletecollection
    collection: dict = {}
    if "list" in verbs:
        collection["get"] = _op(
            f"list{ident}{scope}{kind}", f"list or watch objects of kind {kind}", "list", gvk, tag,
            _LIST_PARAMS + ([WATCH] if "watch" in verbs else []),
            {"200": _response("OK", lst, watch="watch" in verbs)})
    if "create" in verbs:
        collection["post"] = _op(
            f"create{ident}{scope}{kind}", f"create a {kind}", "post", gvk, tag, _WRITE_PARAMS,
            {"200": _response("OK", obj), "201": _response("Created", obj),
             "202": _response("Accepted", obj)}, _body(obj))
    if "deletecollection" in verbs:
        collection["delete"] = _op(
            f"delete{ident}Collection{scope}{kind}", f"delete collection of {kind}",
            "deletecollection", gvk, tag, _DELETECOLLECTION_PARAMS,
            {"200": _response("OK", schemas.STATUS)}, _body(schemas.DELETE_OPTIONS, False))
        used.add(schemas.DELETE_OPTIONS)
    if collection:
        collection["parameters"] = scope_params + [PRETTY]
        paths[base] = collection

    # all-namespaces list
    if strategy.namespaced and "list" in verbs:
        paths[f"{prefix}/{strategy.plural}"] = {
            "get": _op(f"list{ident}{kind}ForAllNamespaces",
                       f"list or watch objects of kind {kind}", "list", gvk, tag,
                       _LIST_PARAMS + ([WATCH] if "watch" in verbs else []),
                       {"200": _response("OK", lst, watch="watch" in verbs)}),
            "parameters": [PRETTY],
        }

    # item: get, put, patch, delete
    item: dict = {}
    if "get" in verbs:
        item["get"] = _op(f"read{ident}{scope}{kind}", f"read the specified {kind}", "get",
                          gvk, tag, [], {"200": _response("OK", obj)})
    if "update" in verbs:
        item["put"] = _op(f"replace{ident}{scope}{kind}", f"replace the specified {kind}", "put",
                          gvk, tag, _WRITE_PARAMS,
                          {"200": _response("OK", obj), "201": _response("Created", obj)},
                          _body(obj))
    if "patch" in verbs:
        item["patch"] = _op(f"patch{ident}{scope}{kind}", f"partially update the specified {kind}",
                            "patch", gvk, tag, _WRITE_PARAMS + [FORCE],
                            {"200": _response("OK", obj), "201": _response("Created", obj)},
                            _patch_body(builtin))
        used.add(schemas.PATCH)
    if "delete" in verbs:
        item["delete"] = _op(f"delete{ident}{scope}{kind}", f"delete a {kind}", "delete", gvk, tag,
                             _DELETE_PARAMS,
                             {"200": _response("OK", schemas.STATUS),
                              "202": _response("Accepted", schemas.STATUS)},
                             _body(schemas.DELETE_OPTIONS, False))
        used.add(schemas.DELETE_OPTIONS)
    if item:
        item["parameters"] = [_path_param("name", f"name of the {kind}")] + scope_params + [PRETTY]
        paths[f"{base}/{{name}}"] = item

    # subresources
    for declared in strategy.subresources:
        sub = declared.name
        if declared.kind is None:
            sub_gvk, sub_obj, sub_kind, sub_builtin = gvk, obj, kind, builtin
        elif declared.schema_name:
            sg, sv, sub_kind = declared.kind
            sub_obj = declared.schema_name
            sub_gvk, sub_builtin = _gvk(sg, sv, sub_kind), True
        else:
            continue            # a kind of its own without a published schema (token)
        used.add(sub_obj)
        sub_ident = f"{ident}{scope}{kind}{_camel(sub)}"
        ops: dict = {}
        if declared.verbs == ("create",):
            if "create" in verbs:
                ops["post"] = _op(f"create{sub_ident}", f"create binding of a {kind}", "post",
                                  sub_gvk, tag, _WRITE_PARAMS,
                                  {"200": _response("OK", sub_obj),
                                   "201": _response("Created", sub_obj),
                                   "202": _response("Accepted", sub_obj)}, _body(sub_obj))
        else:
            if "get" in verbs:
                ops["get"] = _op(f"read{sub_ident}", f"read {sub} of the specified {kind}", "get",
                                 sub_gvk, tag, [], {"200": _response("OK", sub_obj)})
            if "update" in verbs:
                ops["put"] = _op(f"replace{sub_ident}", f"replace {sub} of the specified {kind}",
                                 "put", sub_gvk, tag, _WRITE_PARAMS,
                                 {"200": _response("OK", sub_obj),
                                  "201": _response("Created", sub_obj)}, _body(sub_obj))
            if "patch" in verbs:
                ops["patch"] = _op(f"patch{sub_ident}",
                                   f"partially update {sub} of the specified {kind}", "patch",
                                   sub_gvk, tag, _WRITE_PARAMS + [FORCE],
                                   {"200": _response("OK", sub_obj),
                                    "201": _response("Created", sub_obj)},
                                   _patch_body(sub_builtin))
        if ops:
            ops["parameters"] = [_path_param("name", f"name of the {sub_kind}")] + scope_params \
                + [PRETTY]
            paths[f"{base}/{{name}}/{sub}"] = ops
    return paths, used


# ---- documents --------------------------------------------------------------------------------

def _dumps(doc) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def group_version_document(scheme, group: str, version: str) -> bytes:
    """The OpenAPI 3.0 document kube-apiserver serves at /openapi/v3/<gv_path(group, version)>."""
    prefix = "/" + gv_path(group, version)
    paths: dict[str, dict] = {}
    extra: dict[str, dict] = {}
    roots: set[str] = set()
    for strategy in scheme.resources(group, version):
        resource_paths, used = _resource_paths(strategy, prefix, extra)
        paths.update(resource_paths)
        roots |= used
    doc = {
        "openapi": OPENAPI_VERSION,
        "info": INFO,
        "paths": paths,
        "components": {"schemas": schemas.closure(sorted(roots), extra)},
    }
    return _dumps(doc)


def document_hash(doc: bytes) -> str:
    """Upper-case hex SHA-512 of a document's bytes (the ``hash`` query value and ETag)."""
    return hashlib.sha512(doc).hexdigest().upper()


def group_versions(scheme) -> list[tuple[str, str]]:
    return [(g, v) for g in scheme.groups() for v in scheme.versions(g)]


def root_document(scheme, gv_hashes: dict[str, str] | None = None) -> bytes:
    """The /openapi/v3 index: ``{"paths": {"api/v1": {"serverRelativeURL": ...}, ...}}``.

    ``gv_hashes`` maps ``api/v1``-style keys to document hashes; when omitted every
    group-version document is built to compute them.
    """
    if gv_hashes is None:
        gv_hashes = {gv_path(g, v): document_hash(group_version_document(scheme, g, v))
                     for g, v in group_versions(scheme)}
    return _dumps({"paths": {
        key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
        for key, digest in gv_hashes.items()}})


class OpenAPIDocuments:
    """Builds each document once, on first request, and keeps it (the scheme is fixed
    after start).  Safe to share between threads."""

    def __init__(self, scheme, remote: dict | None = None):
        self._scheme = scheme
        # "apis/GROUP/VERSION" -> serverRelativeURL of documents other servers publish
        # (aggregated APIServices; the aggregator proxies those URLs to their backends)
        self._remote = dict(remote or {})
        self._lock = threading.Lock()
        self._docs: dict[str, tuple[bytes, str] | None] = {}
        self._root: bytes | None = None
        self._known: dict[str, tuple[str, str]] | None = None

    def paths(self) -> list[str]:
        """The document keys (``api/v1``, ``apis/apps/v1`` ...) in discovery order."""
        return list(self._index())

    def _index(self) -> dict[str, tuple[str, str]]:
        if self._known is None:
            self._known = {gv_path(g, v): (g, v) for g, v in group_versions(self._scheme)}
        return self._known

    def document(self, path: str) -> tuple[bytes, str] | None:
        """``(body, hash)`` of the document at ``path`` ("api/v1", "apis/apps/v1"), or None."""
        path = path.strip("/")
        if path in self._docs:
            return self._docs[path]
        gv = self._index().get(path)
        if gv is None:
            return None
        with self._lock:
            if path not in self._docs:
                body = group_version_document(self._scheme, *gv)
                self._docs[path] = (body, document_hash(body))
            return self._docs[path]

    def root(self) -> bytes:
        if self._root is None:
            hashes = {key: self.document(key)[1] for key in self._index()}
            root = orjson.loads(root_document(self._scheme, hashes))
            for key, url in self._remote.items():
                root["paths"].setdefault(key, {"serverRelativeURL": url})
            self._root = _dumps(root)
        return self._root
