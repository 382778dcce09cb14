"""Request bodies in, documents out: JSON (orjson) and YAML with kube-apiserver's limits.

* JSON: orjson refuses nesting deeper than 1,024 levels quickly; that is the depth limit
  (upstream allows 10,000, far beyond any real object).
* YAML: safe loading (no Python tags), then a conversion that counts every node it expands,
  so an alias "billion laughs" document is refused after ``MAX_YAML_NODES`` nodes instead of
  growing memory (CVE-2019-11253).  Upstream's guards are the alias-ratio check in
  kubernetes-sigs/yaml:goyaml.v2/decode.go and the 10,000-level depth cap in
  kubernetes/apimachinery:pkg/util/json/json.go.

May import: orjson, yaml, apiserver.runtime.errors.
"""
from __future__ import annotations

import threading

import orjson
import yaml

from apiserver.runtime.errors import BadRequest

MAX_YAML_NODES = 1_000_000
MAX_DEPTH = 1000
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads_json(body: bytes):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"error decoding JSON: {exc}") from None


def loads_yaml(body: bytes):
    try:
        node = yaml.compose(body, Loader=_Loader)
    except RecursionError:
        raise BadRequest("error converting YAML to JSON: document nested too deeply") from None
    except yaml.YAMLError as exc:
        raise BadRequest(f"error converting YAML to JSON: {exc}".splitlines()[0]) from None
    if node is None:
        return None
    # Size the expanded tree first, memoised per node: aliases are shared nodes, so this is
    # linear in the document while the expansion it predicts may be exponential.
    if _expanded_size(node, {}, 0) > MAX_YAML_NODES:
        raise BadRequest("error converting YAML to JSON: yaml: document contains excessive aliasing")
    budget = [MAX_YAML_NODES]
    return _convert(node, budget, 0)


def _expanded_size(node, memo, depth):
    key = id(node)
    if key in memo:
        return memo[key]
    if depth > MAX_DEPTH:
        raise BadRequest("error converting YAML to JSON: document nested too deeply")
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo, depth + 1) + _expanded_size(v, memo, depth + 1)
                       for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(v, memo, depth + 1) for v in node.value)
    else:
        size = 1
    memo[key] = size
    return size


def _convert(node, budget, depth):
    budget[0] -= 1
    if budget[0] < 0:
        raise BadRequest("error converting YAML to JSON: yaml: document contains excessive aliasing")
    if depth > MAX_DEPTH:
        raise BadRequest("error converting YAML to JSON: document nested too deeply")
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise BadRequest("error converting YAML to JSON: merge keys are not supported")
            key = _convert(key_node, budget, depth + 1)
            if isinstance(key, (dict, list)):
                raise BadRequest("error converting YAML to JSON: non-scalar map key")
            out[key if isinstance(key, str) else _scalar_key(key)] = _convert(value_node, budget, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, budget, depth + 1) for v in node.value]
    try:
        return _Loader.construct_scalar_value(node)
    except Exception as exc:
        raise BadRequest(f"error converting YAML to JSON: {exc}") from None


def _scalar_key(key) -> str:
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    return str(key)


_local = threading.local()


def _construct_scalar(node):
    # Resolve the scalar with the safe constructor, converting timestamps to strings the
    # way a JSON round trip would (Kubernetes treats YAML as JSON).  One loader per thread;
    # its per-node cache is emptied each time so nothing outlives the request.
    loader = getattr(_local, "loader", None)
    if loader is None:
        loader = _local.loader = _Loader("")
    try:
        value = loader.construct_object(node, deep=True)
    finally:
        loader.constructed_objects.clear()
    if hasattr(value, "isoformat"):
        return node.value
    if isinstance(value, bytes):
        return node.value
    return value


_Loader.construct_scalar_value = staticmethod(_construct_scalar)


def loads_any(body: bytes, content_type: str):
    """Decode by media type (JSON is tried first for YAML types: JSON is valid YAML)."""
    if "yaml" in content_type:
        stripped = body.lstrip()
        if stripped[:1] in (b"{", b"["):
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass
        return loads_yaml(body)
    return loads_json(body)


def dumps(obj) -> bytes:
    return orjson.dumps(obj)


def dumps_yaml(obj) -> bytes:
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=False).encode()
