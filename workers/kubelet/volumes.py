"""Pod volumes for the process runtime: materialised as plain directories under the pod's
directory, and the path rewrite that lets a container find them.

Upstream's kubelet mounts each volume into the container's filesystem
(pkg/kubelet/volumemanager, pkg/volume/{configmap,secret,downwardapi,projected,emptydir}, the
files written by pkg/volume/util/atomic_writer.go).  A process has no filesystem of its own,
so here:

* ``materialise(pod, pod_dir, sources, api, node)`` writes every volume of the pod into
  ``pod_dir/volumes/NAME/`` and returns ``{name: host directory}``:

  - ``emptyDir``: an empty directory (``medium: Memory`` too: no tmpfs);
  - ``configMap`` / ``secret``: one file per key (or per ``items`` entry, at its ``path``),
    with ``defaultMode``/``mode`` (default 0644); a missing object that is not ``optional``
    raises ``CreateContainerConfigError`` with upstream's FailedMount wording;
  - ``downwardAPI``: one file per item (``fieldRef``, ``resourceFieldRef``);
  - ``projected``: the union of its sources, ``serviceAccountToken`` included (a bound token
    from ``serviceaccounts/NAME/token``, bound to the pod, for its audience and
    ``expirationSeconds``);
  - ``hostPath``: the host's own path (it is the host) — nothing is written;
  - anything else (PVCs, CSI, …): an empty directory, as if the volume were empty.

  Volumes are written again before each container start and then every minute while the
  pod runs (the runtime's refresher, as upstream's kubelet syncs them): an edited ConfigMap
  or Secret, new labels or annotations reach the files, a removed key's file goes; a
  projected token is renewed once 80 % of its lifetime has passed.  Each file is replaced
  atomically, but not the volume as a whole (upstream swaps a ``..data`` symlink).

* ``mounts(container, paths)`` → ``[(mountPath, host path)]`` for the container's
  ``volumeMounts`` (``subPath`` appended); ``readOnly`` is not enforced.

* ``rewrite(text, mounts)``: every occurrence of a ``mountPath`` standing as a path in
  ``text`` (at its start or after a character that cannot be part of a path, and followed by
  ``/``, the end or such a character) becomes the host directory.  The runtime applies it to
  the command line, the ``env`` values and ``workingDir`` after ``$(VAR)`` expansion, and to
  the command lines of ``exec`` sessions and exec probes.  That
  is the whole trick, and its limit: a path the program computes itself at run time (from a
  variable it builds, a default compiled in such as client libraries'
  ``/var/run/secrets/kubernetes.io/serviceaccount``, or a configuration file it reads) is not
  rewritten and does not exist.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from apiserver.client import ApiError

from .process_env import field_value, resource_value
from .runtime import CreateContainerConfigError

DEFAULT_MODE = 0o644
TOKEN_EXPIRATION = 3600


def _safe_relative(path: str) -> str:
    """A volume item path: relative, without ``..`` (validation refuses others already)."""
    parts = [p for p in str(path).split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise CreateContainerConfigError(f"invalid volume item path {path!r}")
    return "/".join(parts)


def _write(root: Path, rel: str, data: bytes, mode: int) -> None:
    target = root / _safe_relative(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode & 0o777)
    os.replace(tmp, target)


def _mode(value, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


async def _object_files(kind: str, ref: dict, sources, volume: str, default_mode: int):
    """(path, bytes, mode) of a configMap/secret source; None when optional and absent."""
    name = ref.get("name") if kind == "configmap" else ref.get("secretName", ref.get("name"))
    name = name or ""
    optional = bool(ref.get("optional"))
    try:
        data = await sources.raw(kind, name, optional)
    except CreateContainerConfigError as exc:
        raise CreateContainerConfigError(
            f'MountVolume.SetUp failed for volume "{volume}" : {exc}') from None
    if data is None:
        return []
    items = ref.get("items")
    if not items:
        return [(key, value, default_mode) for key, value in sorted(data.items())]
    out = []
    for item in items:
        key = item.get("key")
        if key not in data:
            if optional:
                continue
            what = "configmap references non-existent config key" if kind == "configmap" \
                else "references non-existent secret key"
            raise CreateContainerConfigError(
                f'MountVolume.SetUp failed for volume "{volume}" : {what}: {key}')
        out.append((item.get("path") or key, data[key], _mode(item.get("mode"), default_mode)))
    return out


def _downward_files(items, pod: dict, node: dict, default_mode: int):
    containers = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or ()}
    out = []
    for item in items or ():
        if isinstance(item.get("fieldRef"), dict):
            value = field_value(pod, item["fieldRef"].get("fieldPath") or "")
        elif isinstance(item.get("resourceFieldRef"), dict):
            ref = item["resourceFieldRef"]
            value = resource_value(containers.get(ref.get("containerName")) or {}, ref, node)
        else:
            continue
        out.append((item.get("path") or "", value.encode(),
                    _mode(item.get("mode"), default_mode)))
    return out


async def _token(api, pod: dict, source: dict, cache: dict | None = None,
                 key=None) -> bytes:
    """A bound service-account token for the pod (upstream pkg/kubelet/token manager),
    reused from ``cache`` until 80 % of its lifetime has passed, as upstream's manager
    renews it."""
    now = time.monotonic()
    if cache is not None and key in cache and now < cache[key][1]:
        return cache[key][0]
    token = await _request_token(api, pod, source)
    if cache is not None:
        lifetime = int(source.get("expirationSeconds") or TOKEN_EXPIRATION)
        cache[key] = (token, now + 0.8 * lifetime)
    return token


async def _request_token(api, pod: dict, source: dict) -> bytes:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    sa = spec.get("serviceAccountName") or "default"
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [source["audience"]] if source.get("audience") else [],
                     "expirationSeconds": int(source.get("expirationSeconds")
                                              or TOKEN_EXPIRATION),
                     "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                        "name": meta.get("name"), "uid": meta.get("uid")}}}
    try:
        answer = await api.create(
            f"/api/v1/namespaces/{meta.get('namespace')}/serviceaccounts/{sa}/token", body)
    except ApiError as exc:
        raise CreateContainerConfigError(
            f'failed to fetch token: {exc.message or exc}') from None
    return str((answer.get("status") or {}).get("token") or "").encode()


async def _volume_files(volume: dict, pod: dict, sources, api, node: dict,
                        tokens: dict | None = None):
    name = volume.get("name", "")
    if isinstance(volume.get("configMap"), dict):
        v = volume["configMap"]
        return await _object_files("configmap", v, sources, name,
                                   _mode(v.get("defaultMode"), DEFAULT_MODE))
    if isinstance(volume.get("secret"), dict):
        v = volume["secret"]
        return await _object_files("secret", v, sources, name,
                                   _mode(v.get("defaultMode"), DEFAULT_MODE))
    if isinstance(volume.get("downwardAPI"), dict):
        v = volume["downwardAPI"]
        return _downward_files(v.get("items"), pod, node,
                               _mode(v.get("defaultMode"), DEFAULT_MODE))
    if isinstance(volume.get("projected"), dict):
        v = volume["projected"]
        default = _mode(v.get("defaultMode"), DEFAULT_MODE)
        out = []
        for src in v.get("sources") or ():
            if isinstance(src.get("configMap"), dict):
                out += await _object_files("configmap", src["configMap"], sources, name,
                                           default)
            elif isinstance(src.get("secret"), dict):
                out += await _object_files("secret", src["secret"], sources, name, default)
            elif isinstance(src.get("downwardAPI"), dict):
                out += _downward_files(src["downwardAPI"].get("items"), pod, node, default)
            elif isinstance(src.get("serviceAccountToken"), dict):
                token = src["serviceAccountToken"]
                path = token.get("path") or "token"
                out.append((path, await _token(api, pod, token, tokens, (name, path)),
                            _mode(token.get("mode"), default if v.get("defaultMode")
                                  is not None else 0o600)))
        return out
    return []


_WRITTEN = ("configMap", "secret", "downwardAPI", "projected")


def _prune(target: Path, keep: set) -> None:
    """Remove files a previous write left that the volume no longer has (a deleted key)."""
    for base, _, files in os.walk(target, topdown=False):
        for f in files:
            path = Path(base) / f
            if str(path.relative_to(target)) not in keep:
                path.unlink(missing_ok=True)


async def materialise(pod: dict, pod_dir: Path, sources, api, node: dict | None = None,
                      tokens: dict | None = None) -> dict:
    """See the module docstring.  ``tokens``: the pod's token cache, kept between calls
    (see ``_token``)."""
    paths: dict[str, str] = {}
    root = Path(pod_dir) / "volumes"
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        name = volume.get("name") or ""
        if not name or "/" in name or name in (".", ".."):
            continue
        if isinstance(volume.get("hostPath"), dict):
            paths[name] = str(volume["hostPath"].get("path") or "/")
            continue
        target = root / name
        target.mkdir(parents=True, exist_ok=True)
        files = await _volume_files(volume, pod, sources, api, node or {}, tokens)
        for rel, data, mode in files:
            _write(target, rel, data, mode)
        if any(k in volume for k in _WRITTEN):
            _prune(target, {_safe_relative(rel) for rel, _, _ in files})
        paths[name] = str(target)
    return paths


def mounts(container: dict, paths: dict) -> list[tuple[str, str]]:
    """See the module docstring; mounts of unknown volumes are left out."""
    out = []
    for m in container.get("volumeMounts") or ():
        host = paths.get(m.get("name"))
        mount_path = (m.get("mountPath") or "").rstrip("/")
        if host is None or not mount_path:
            continue
        sub = m.get("subPath") or ""
        if sub:
            host = os.path.join(host, _safe_relative(sub))
            if not os.path.exists(host):
                os.makedirs(host, exist_ok=True)
        out.append((mount_path, host))
    return out


_PATH_CHAR = r"[\w.\-/~]"


def rewrite(text: str, mount_list: list[tuple[str, str]]) -> str:
    """See the module docstring (longest mount paths first, so nested mounts win)."""
    if not mount_list or not text:
        return text
    ordered = sorted(mount_list, key=lambda m: len(m[0]), reverse=True)
    pattern = re.compile("|".join(
        rf"(?<!{_PATH_CHAR}){re.escape(path)}(?=/|$|(?!{_PATH_CHAR}))" for path, _ in ordered))
    table = dict(ordered)
    return pattern.sub(lambda m: table[m.group(0)], text)
