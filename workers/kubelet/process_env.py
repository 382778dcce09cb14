"""A container's environment and argv for the process runtime (upstream
pkg/kubelet/kubelet_pods.go ``makeEnvironmentVariables`` and
pkg/kubelet/kuberuntime/kuberuntime_container.go, with the ``$(VAR)`` expansion of
third_party/forked/golang/expansion/expand.go).

* ``expand(text, mapping)``: ``$(NAME)`` becomes the value of NAME when it is defined and
  stays as written otherwise; ``$$`` is one literal ``$``; any other ``$`` is kept.
* ``environment(pod, container, api, node)`` → the env dict in upstream's order: every
  ``envFrom`` source (ConfigMap or Secret, each key with its ``prefix``; keys that are not
  valid variable names are skipped, as upstream skips them), then ``env`` entries, each
  ``value`` expanded against what was defined before it, each ``valueFrom`` resolved
  (configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef).  A missing ConfigMap/Secret
  or key that is not ``optional`` raises ``CreateContainerConfigError`` with upstream's
  message; the pod worker shows it as the waiting reason and retries.  Service links
  (``enableServiceLinks``) are not added.
* ``command_line(container, env)`` → the argv, each item expanded against ``env``:
  ``command`` (which replaces the image's entrypoint) followed by ``args``; ``args`` alone
  when there is no ``command`` (images are not unpacked here, so every image is taken to have
  no ENTRYPOINT: ``args`` replace its CMD and are the whole command line, as for busybox);
  None when the container has neither (it then runs as the simulated runtime's do).

``api`` is anything with ``async get(path)`` answering the API's JSON (the kubelet's
AsyncClient; the Node authorizer lets a node read the ConfigMaps and Secrets its pods
reference).  ``ApiError`` 404 is "not found".
"""
from __future__ import annotations

import base64
import math
import re
from fractions import Fraction

from apiserver.client import ApiError
from workers.scheduler.quantity import parse

from .runtime import CreateContainerConfigError

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")      # validation.IsEnvVarName


def expand(text: str, mapping: dict) -> str:
    """See the module docstring (upstream expansion.Expand)."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":                       # the escape: one literal $
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end < 0:                      # unterminated: kept as written
                out.append(text[i:])
                break
            name = text[i + 2:end]
            out.append(mapping[name] if name in mapping else text[i:end + 1])
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def command_line(container: dict, env: dict) -> list[str] | None:
    argv = [str(c) for c in container.get("command") or ()]
    argv += [str(a) for a in container.get("args") or ()]
    return [expand(a, env) for a in argv] if argv else None


class Sources:
    """ConfigMaps and Secrets of one namespace, each read once per container."""

    def __init__(self, api, namespace: str):
        self.api, self.namespace, self.cache = api, namespace, {}

    async def get(self, kind: str, name: str, optional: bool) -> dict | None:
        key = (kind, name)
        if key not in self.cache:
            resource = "configmaps" if kind == "configmap" else "secrets"
            try:
                self.cache[key] = await self.api.get(
                    f"/api/v1/namespaces/{self.namespace}/{resource}/{name}")
            except ApiError as exc:
                if exc.status != 404:
                    raise CreateContainerConfigError(
                        f"couldn't get {kind} {self.namespace}/{name}: {exc}") from None
                self.cache[key] = None
        obj = self.cache[key]
        if obj is None and not optional:
            raise CreateContainerConfigError(f'{kind} "{name}" not found')
        return obj

    async def raw(self, kind: str, name: str, optional: bool) -> dict | None:
        """The object's data as bytes: a Secret's ``data`` decoded, a ConfigMap's ``data``
        encoded and its ``binaryData`` decoded (what volumes write to files)."""
        obj = await self.get(kind, name, optional)
        if obj is None:
            return None
        if kind == "secret":
            return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        out = {k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()}
        out.update({k: str(v).encode() for k, v in (obj.get("data") or {}).items()})
        return out

    async def data(self, kind: str, name: str, optional: bool) -> dict | None:
        """The object's data as text, for environment variables: a Secret's values decoded,
        a ConfigMap's ``data`` only (upstream reads no ``binaryData`` into variables)."""
        if kind == "secret":
            raw = await self.raw(kind, name, optional)
            return None if raw is None else \
                {k: v.decode("utf-8", "replace") for k, v in raw.items()}
        obj = await self.get(kind, name, optional)
        return None if obj is None else {k: str(v) for k, v in (obj.get("data") or {}).items()}


def field_value(pod: dict, path: str) -> str:
    """A fieldRef's value (upstream pkg/api/v1/pod podFieldSelectorRuntimeValue and
    fieldpath.ExtractFieldPathAsString)."""
    meta, spec, status = (pod.get(k) or {} for k in ("metadata", "spec", "status"))
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName"),
              "status.podIP": status.get("podIP"), "status.hostIP": status.get("hostIP"),
              "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or ()),
              "status.hostIPs": ",".join(i.get("ip", "") for i in status.get("hostIPs") or ())}
    if path in simple:
        return simple[path] or ""
    m = re.match(r"^metadata\.(labels|annotations)(?:\['(.*)'\])?$", path)
    if m:
        values = meta.get(m.group(1)) or {}
        if m.group(2) is not None:
            return values.get(m.group(2), "")
        # the whole map, one k="v" per line, sorted (fieldpath.FormatMap)
        return "\n".join(f'{k}="{values[k]}"' for k in sorted(values))
    raise CreateContainerConfigError(f"unsupported fieldRef fieldPath {path!r}")


def resource_value(container: dict, ref: dict, node: dict) -> str:
    """A resourceFieldRef's value, rounded up in units of its divisor (upstream
    pkg/api/v1/resource ExtractContainerResourceValue); an unset limit is the node's
    allocatable, as upstream's MergeContainerResourceLimits."""
    resource = ref.get("resource") or ""
    kind, _, name = resource.partition(".")
    values = (container.get("resources") or {}).get(kind) or {}
    raw = values.get(name)
    if raw in (None, "") and kind == "limits":
        raw = node.get(name)
    if raw in (None, ""):
        raw = "0"
    divisor = ref.get("divisor") or "1"
    try:
        value, unit = Fraction(parse(str(raw))), Fraction(parse(str(divisor)))
    except (ValueError, TypeError):
        raise CreateContainerConfigError(f"invalid resourceFieldRef {resource!r}") from None
    if unit <= 0:
        raise CreateContainerConfigError(f"invalid divisor for {resource!r}")
    return str(math.ceil(value / unit))


async def environment(pod: dict, container: dict, api, node: dict | None = None,
                      sources: Sources | None = None) -> dict:
    """See the module docstring.  ``node``: the node's allocatable (``cpu``, ``memory``,
    ``ephemeral-storage``) for resourceFieldRef limits that are unset."""
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    sources = sources or Sources(api, ns)
    env: dict[str, str] = {}
    for src in container.get("envFrom") or ():
        prefix = src.get("prefix") or ""
        for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = src.get(key)
            if not isinstance(ref, dict):
                continue
            data = await sources.data(kind, ref.get("name", ""), bool(ref.get("optional")))
            for k, v in (data or {}).items():
                if _ENV_NAME.match(prefix + k):
                    env[prefix + k] = v
    for var in container.get("env") or ():
        name = var.get("name") or ""
        source = var.get("valueFrom")
        if not isinstance(source, dict):
            env[name] = expand(str(var.get("value") or ""), env)
            continue
        for kind, key in (("configmap", "configMapKeyRef"), ("secret", "secretKeyRef")):
            ref = source.get(key)
            if not isinstance(ref, dict):
                continue
            optional = bool(ref.get("optional"))
            data = await sources.data(kind, ref.get("name", ""), optional)
            if data is None:
                break
            if ref.get("key") not in data:
                if optional:
                    break
                raise CreateContainerConfigError(
                    f"couldn't find key {ref.get('key')} in {'ConfigMap' if kind == 'configmap' else 'Secret'} "
                    f"{ns}/{ref.get('name')}")
            env[name] = data[ref["key"]]
            break
        else:
            if isinstance(source.get("fieldRef"), dict):
                env[name] = field_value(pod, source["fieldRef"].get("fieldPath") or "")
            elif isinstance(source.get("resourceFieldRef"), dict):
                ref = source["resourceFieldRef"]
                target = container
                if ref.get("containerName"):
                    target = next((c for c in (pod.get("spec") or {}).get("containers") or ()
                                   if c.get("name") == ref["containerName"]), container)
                env[name] = resource_value(target, ref, node or {})
    return env
