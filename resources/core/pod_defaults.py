"""Pod API defaults and the QoS class, on plain JSON dicts: the one place PodSpec defaults live.

Mirrors k8s.io/kubernetes ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Pod``,
``SetDefaults_PodSpec``, ``SetDefaults_Container``, ``SetDefaults_Probe``,
``SetDefaults_*VolumeSource``), the declarative ``+default`` markers that
``pkg/apis/core/v1/zz_generated.defaults.go`` applies to every nested PodSpec (port
protocol, gRPC probe service, RBD/iSCSI/AzureDisk/ScaleIO fields) and
``pkg/apis/core/v1/helper/qos/qos.go`` (``GetPodQOS``).

Two entry points, as upstream has two defaulters:

* :func:`default_pod_spec` — every PodSpec, a Pod's and a workload template's alike
  (``SetDefaults_PodSpec`` and the nested defaulters).  Workloads reach it through
  ``resources.podtemplate.default_pod_template``.
* :func:`default_pod` — a Pod: the above plus what upstream keeps in ``SetDefaults_Pod``
  "because we only want this defaulting semantic to take place on a v1.Pod and not a
  v1.PodTemplate": requests copied from limits, ``enableServiceLinks``, and host ports from
  container ports under ``hostNetwork``.

Go only fills a field that holds its zero value, so ``""``/``0``/``null`` count as unset
(``restartPolicy: ""`` becomes ``Always``), never a value the client chose.  Every function
is idempotent: the Store re-runs defaults on every update and compares.

May import: apiserver.runtime.
"""
from __future__ import annotations

import re

from apiserver.runtime.quantity import QuantityError, parse_quantity

DEFAULT_TERMINATION_GRACE = 30
DEFAULT_MODE = 0o644            # 420: Secret/ConfigMap/projected/downwardAPI volume files
DEFAULT_TOKEN_EXPIRATION = 3600  # SetDefaults_ServiceAccountTokenProjection: one hour
QOS_RESOURCES = ("cpu", "memory")
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")

# declarative defaults of volume sources (zz_generated.defaults.go); a field is filled when
# it holds its zero value
_SOURCE_DEFAULTS = {
    "iscsi": {"iscsiInterface": "default"},
    "rbd": {"pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"},
    "scaleIO": {"storageMode": "ThinProvisioned", "fsType": "xfs"},
}
# AzureDiskVolumeSource's defaults are pointers: only null/absent is filled (false stays)
_AZURE_DISK_DEFAULTS = {"cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": False,
                        "kind": "Shared"}


def default_pod(pod: dict) -> None:
    """A Pod's defaults: ``SetDefaults_PodSpec`` and everything nested, then the Pod-only
    ``SetDefaults_Pod`` part (:func:`default_pod_only`)."""
    spec = pod.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)
        default_pod_only(spec)


def default_pod_only(spec: dict) -> None:
    """What upstream's ``SetDefaults_Pod`` adds to a Pod's spec and not to a template's.

    Requests default to limits for containers and init containers (not ephemeral ones),
    ``enableServiceLinks`` to true, and with ``hostNetwork`` every unset ``hostPort`` of a
    container or init container to its ``containerPort`` (``defaultHostNetworkPorts``;
    1.32 keeps it off templates: the DefaultHostNetworkHostPortsInPodTemplates gate is off)."""
    for key in ("containers", "initContainers"):
        for c in _dicts(spec.get(key)):
            res = c.get("resources")
            limits = res.get("limits") if isinstance(res, dict) else None
            if isinstance(limits, dict) and limits:
                requests = res.get("requests")
                if requests is None:
                    requests = res["requests"] = {}
                if isinstance(requests, dict):
                    for name, value in limits.items():
                        requests.setdefault(name, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for c in _dicts(spec.get(key)):
                for port in _dicts(c.get("ports")):
                    if not port.get("hostPort") and port.get("containerPort"):
                        port["hostPort"] = port["containerPort"]   # 0 would be omitted


def default_pod_spec(spec: dict) -> dict:
    """``SetDefaults_PodSpec`` and the nested defaulters, in place; returns ``spec``.

    Applies to every PodSpec: a Pod's and a workload's template alike (upstream keeps new
    Pod-only defaults out of here, see :func:`default_pod_only`)."""
    if not isinstance(spec, dict):
        return spec
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for volume in _dicts(spec.get("volumes")):
        default_volume(volume)
    for key in CONTAINER_LISTS:
        for container in _dicts(spec.get(key)):
            default_container(container)
    return spec


def default_container(c: dict) -> None:
    """``SetDefaults_Container`` with its ports, env field refs, probes and lifecycle hooks."""
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = image_pull_policy(c.get("image"))
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = "/dev/termination-log"
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    if not isinstance(c.get("resources"), dict):
        c["resources"] = {}           # a non-pointer struct: Go prints `resources: {}`
    for port in _dicts(c.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"  # +default="TCP"
    for env in _dicts(c.get("env")):
        value_from = env.get("valueFrom")
        if isinstance(value_from, dict):
            _default_field_ref(value_from.get("fieldRef"))
    for name in PROBES:
        if isinstance(c.get(name), dict):
            default_probe(c[name])
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                _default_http_get(lifecycle[hook].get("httpGet"))


def default_probe(probe: dict) -> None:
    """``SetDefaults_Probe`` (zero counts as unset) and its HTTPGet / gRPC handler."""
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10),
                       ("successThreshold", 1), ("failureThreshold", 3)):
        if probe.get(key) in (None, 0):
            probe[key] = value
    _default_http_get(probe.get("httpGet"))
    grpc = probe.get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""          # +default=""


def _default_http_get(action) -> None:
    """``SetDefaults_HTTPGetAction``."""
    if isinstance(action, dict):
        if not action.get("path"):
            action["path"] = "/"
        if not action.get("scheme"):
            action["scheme"] = "HTTP"


def _default_field_ref(ref) -> None:
    """``SetDefaults_ObjectFieldSelector``."""
    if isinstance(ref, dict) and not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def default_volume(volume: dict) -> None:
    """``SetDefaults_Volume`` (no source → emptyDir) and the volume sources' defaults."""
    if not any(v is not None for k, v in volume.items() if k != "name"):
        volume["emptyDir"] = {}       # ptr.AllPtrFieldsNil(&VolumeSource)
    for key in ("secret", "configMap", "projected", "downwardAPI"):
        src = volume.get(key)
        if isinstance(src, dict) and src.get("defaultMode") is None:
            src["defaultMode"] = DEFAULT_MODE
    downward = volume.get("downwardAPI")
    if isinstance(downward, dict):
        for item in _dicts(downward.get("items")):
            _default_field_ref(item.get("fieldRef"))
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for source in _dicts(projected.get("sources")):
            if isinstance(source.get("downwardAPI"), dict):
                for item in _dicts(source["downwardAPI"].get("items")):
                    _default_field_ref(item.get("fieldRef"))
            token = source.get("serviceAccountToken")
            if isinstance(token, dict) and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = DEFAULT_TOKEN_EXPIRATION
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict) and host_path.get("type") is None:
        host_path["type"] = ""        # HostPathUnset
    for key, defaults in _SOURCE_DEFAULTS.items():
        src = volume.get(key)
        if isinstance(src, dict):
            for name, value in defaults.items():
                if not src.get(name):
                    src[name] = value
    azure = volume.get("azureDisk")
    if isinstance(azure, dict):
        for name, value in _AZURE_DISK_DEFAULTS.items():
            if azure.get(name) is None:
                azure[name] = value
    ephemeral = volume.get("ephemeral")
    claim = ephemeral.get("volumeClaimTemplate") if isinstance(ephemeral, dict) else None
    if isinstance(claim, dict):
        claim_spec = claim.get("spec")
        if claim_spec is None:
            claim_spec = claim["spec"] = {}
        if isinstance(claim_spec, dict) and claim_spec.get("volumeMode") is None:
            claim_spec["volumeMode"] = "Filesystem"   # SetDefaults_PersistentVolumeClaimSpec


# The reference grammar of github.com/distribution/reference, which upstream's
# parsers.ParseImageName applies (via ParseNormalizedNamed) before it looks at the tag.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<algorithm>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):(?P<hex>[0-9a-fA-F]+))?",
    re.ASCII)
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}   # the algorithms kube links in
_NAME_MAX = 255


def image_pull_policy(image) -> str:
    """``Always`` for ``:latest`` or an untagged image without digest, else ``IfNotPresent``.

    Upstream ignores the error of ``parsers.ParseImageName``: a reference that does not parse
    (empty, upper-case repository, a bare 64-hex id, a bad digest) has tag "" and so gets
    ``IfNotPresent``."""
    return "Always" if _image_tag(image) == "latest" else "IfNotPresent"


def _image_tag(image) -> str:
    """The tag ``ParseImageName`` returns: the given tag, "latest" when neither a tag nor a
    digest is given, "" for a digest-only or unparsable reference."""
    if not isinstance(image, str):
        return ""
    m = _REFERENCE.fullmatch(image)
    if m is None or len(m["name"]) > _NAME_MAX or re.fullmatch(r"[a-f0-9]{64}", image):
        return ""
    if m["algorithm"] is not None:
        length = _DIGEST_LENGTHS.get(m["algorithm"])
        if length is None or not re.fullmatch(rf"[a-f0-9]{{{length}}}", m["hex"]):
            return ""                 # digest.Parse: unavailable algorithm or bad encoding
    if m["tag"]:
        return m["tag"]
    return "" if m["algorithm"] else "latest"


def qos_class(pod: dict) -> str:
    """``GetPodQOS``: BestEffort (no cpu/memory requests or limits anywhere), Guaranteed
    (every container limits cpu and memory, and requests equal limits), else Burstable."""
    spec = pod.get("spec") or {}
    requests: dict = {}
    limits: dict = {}
    guaranteed = True
    containers = _dicts(spec.get("containers")) + _dicts(spec.get("initContainers"))
    for c in containers:
        res = c.get("resources") if isinstance(c.get("resources"), dict) else {}
        for name, q in _quantities(res.get("requests")).items():
            if name in QOS_RESOURCES and q.value != 0:
                requests[name] = requests.get(name, 0) + q.value
        seen = set()
        for name, q in _quantities(res.get("limits")).items():
            if name in QOS_RESOURCES and q.value != 0:
                seen.add(name)
                limits[name] = limits.get(name, 0) + q.value
        if not set(QOS_RESOURCES) <= seen:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def _quantities(values) -> dict:
    out = {}
    for name, text in (values or {}).items() if isinstance(values, dict) else ():
        try:
            out[name] = parse_quantity(text)
        except (QuantityError, TypeError):
            continue        # validation reports it
    return out


def _dicts(values) -> list:
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
