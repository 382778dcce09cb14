"""The pods' connect-style subresources: ``exec``, ``attach``, ``portforward``, ``log`` and
``proxy``, each a :class:`~apiserver.registry.strategy.Connect` declaration that parses
its options and picks where the request goes (``apiserver.endpoints.connect`` does the
rest: admission as CONNECT, the upgrade check, the proxying).

Upstream: kubernetes/kubernetes pkg/registry/core/pod/strategy.go (``streamLocation``,
``ExecLocation``, ``AttachLocation``, ``PortForwardLocation``, ``LogLocation``,
``ResourceLocation`` and ``streamParams``: the kubelet's own query names ``command``,
``input=1``, ``output=1``, ``error=1``, ``tty=1`` and ``port=a,b``), pkg/registry/core/pod/
rest/subresources.go and log.go, and pkg/apis/core/validation ``ValidatePodLogOptions``.

Query values decode as apimachinery's conversions do: a bool is false when absent, "0" or
any-case "false" and true otherwise ("" included); an int that does not parse is a 400.

pods/proxy goes to the pod's IP (``status.podIP``) as upstream, never to an address the
client names, and only to an IP upstream's IsProxyableIP allows (not loopback, not
link-local: ``kubelet_location.check_ip``).  Pod IPs here come from each node's podCIDR
with no pod network behind them (simulated pods listen nowhere; process pods listen on this
machine's own addresses): a dial to one reaches no pod, only whatever else on the network
has that address (on the development machine something answered 10.244.x.y:80 with 404).
So a pod IP inside its node's podCIDR is refused with 503 before any dial; port-forward,
which goes through the kubelet, is the way to reach a pod's port.
"""
from __future__ import annotations

import datetime
from urllib.parse import urlencode

from apiserver.registry.strategy import Connect, Location
from apiserver.runtime import errors
from apiserver.runtime.selectors import query_bool

from .kubelet_location import PROXY_METHODS, PROXY_VERBS, check_ip, kubelet_location, \
    split_scheme_name_port, unrouted_pod_ip


def _int(query: dict, key: str) -> int | None:
    values = query.get(key)
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        raise errors.BadRequest(f'strconv.ParseInt: parsing "{values[0]}": invalid syntax') \
            from None


def _first(query: dict, key: str) -> str:
    values = query.get(key)
    return values[0] if values else ""


def _names(containers) -> str:
    return " ".join(c.get("name", "") for c in containers or () if isinstance(c, dict))


def _pod(ctx, store, namespace: str, name: str) -> dict:
    return store.load(namespace, name)[0]


def _has_container(pod: dict, container: str) -> bool:
    spec = pod.get("spec") or {}
    return any(isinstance(c, dict) and c.get("name") == container
               for key in ("containers", "initContainers", "ephemeralContainers")
               for c in spec.get(key) or ())


def pick_container(pod: dict, container: str, none_message: str) -> str:
    """upstream ``validateContainer``: the named container must exist; none named is
    fine only for a one-container pod."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    if container:
        if not _has_container(pod, container):
            raise errors.BadRequest(f"container {container} is not valid for pod {name}")
        return container
    containers = spec.get("containers") or []
    if len(containers) == 1:
        return containers[0].get("name", "")
    if not containers:
        raise errors.BadRequest(none_message.format(name=name))
    message = (f"a container name must be specified for pod {name}, choose one of: "
               f"[{_names(containers)}]")
    if spec.get("initContainers"):
        message += f" or one of the init containers: [{_names(spec['initContainers'])}]"
    raise errors.BadRequest(message)


def _node(pod: dict) -> str:
    node = (pod.get("spec") or {}).get("nodeName") or ""
    if not node:
        raise errors.BadRequest(f"pod {pod['metadata']['name']} does not have a host assigned")
    return node


class Stream(Connect):
    """exec and attach (``streamLocation``): to /exec|/attach/NS/POD/CONTAINER."""

    def options(self, query, subpath):
        opts = {"kind": self.kind[2], "apiVersion": "v1"}
        for key in ("stdin", "stdout", "stderr", "tty"):
            if query_bool(query.get(key)):
                opts[key] = True
        if _first(query, "container"):
            opts["container"] = _first(query, "container")
        if self.name == "exec":
            opts["command"] = list(query.get("command") or [])
        return opts

    def location(self, ctx, store, namespace, name, options, server_options):
        pod = _pod(ctx, store, namespace, name)
        container = pick_container(pod, options.get("container", ""),
                                   "pod {name} does not have a host assigned")
        node = _node(pod)
        params = [("command", c) for c in options.get("command") or ()]
        for public, kubelet in (("stdin", "input"), ("stdout", "output"), ("stderr", "error"),
                                ("tty", "tty")):
            if options.get(public):
                params.append((kubelet, "1"))
        params.sort(key=lambda kv: kv[0])          # url.Values.Encode sorts by key
        m = pod["metadata"]
        return kubelet_location(ctx, node, f"/{self.name}/{m['namespace']}/{m['name']}/"
                                f"{container}", urlencode(params), server_options,
                                upgrade_required=True, resource="pods", name=name)


class PortForward(Connect):
    """``PortForwardLocation``: to /portForward/NS/POD?port=a,b."""

    def options(self, query, subpath):
        ports = []
        for value in query.get("ports") or ():
            for part in value.split(","):
                try:
                    port = int(part)
                except ValueError:
                    raise errors.BadRequest(f'strconv.ParseInt: parsing "{part}": invalid '
                                            'syntax') from None
                if not -2**31 <= port < 2**31:
                    raise errors.BadRequest(f'strconv.ParseInt: parsing "{part}": value out '
                                            'of range')
                ports.append(port)
        opts = {"kind": "PodPortForwardOptions", "apiVersion": "v1"}
        if ports:
            opts["ports"] = ports
        return opts

    def location(self, ctx, store, namespace, name, options, server_options):
        pod = _pod(ctx, store, namespace, name)
        node = _node(pod)
        ports = options.get("ports") or []
        query = urlencode([("port", ",".join(str(p) for p in ports))]) if ports else ""
        m = pod["metadata"]
        return kubelet_location(ctx, node, f"/portForward/{m['namespace']}/{m['name']}", query,
                                server_options, upgrade_required=True, resource="pods",
                                name=name)


def _log_errors(opts: dict) -> list:
    """upstream ValidatePodLogOptions."""
    errs = []
    if opts.get("tailLines") is not None and opts["tailLines"] < 0:
        errs.append(errors.invalid("tailLines", opts["tailLines"],
                                   "must be greater than or equal to 0"))
    if opts.get("limitBytes") is not None and opts["limitBytes"] < 1:
        errs.append(errors.invalid("limitBytes", opts["limitBytes"], "must be greater than 0"))
    if opts.get("sinceSeconds") is not None and opts.get("sinceTime") is not None:
        errs.append(errors.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may "
                                     "be specified"))
    elif opts.get("sinceSeconds") is not None and opts["sinceSeconds"] < 1:
        errs.append(errors.invalid("sinceSeconds", opts["sinceSeconds"],
                                   "must be greater than 0"))
    return errs


def _rfc3339(value: str) -> str:
    """metav1.Time from a query: RFC 3339, re-encoded at second precision in UTC."""
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": '
                                'cannot parse') from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Log(Connect):
    """``pods/log`` (upstream LogREST + ``LogLocation``): a streamed GET of the kubelet's
    /containerLogs/NS/POD/CONTAINER, passing only the options that are set."""

    def options(self, query, subpath):
        opts = {"kind": "PodLogOptions", "apiVersion": "v1"}
        if _first(query, "container"):
            opts["container"] = _first(query, "container")
        for key in ("follow", "previous", "timestamps", "insecureSkipTLSVerifyBackend"):
            if query_bool(query.get(key)):
                opts[key] = True
        for key in ("sinceSeconds", "tailLines", "limitBytes"):
            value = _int(query, key)
            if value is not None:
                opts[key] = value
        if query.get("sinceTime"):
            opts["sinceTime"] = _rfc3339(_first(query, "sinceTime"))
        if _first(query, "stream"):
            opts["stream"] = _first(query, "stream")
        return opts

    def location(self, ctx, store, namespace, name, options, server_options):
        errs = _log_errors(options)
        if errs:
            raise errors.Invalid.for_object("PodLogOptions", "", name, errs)
        pod = _pod(ctx, store, namespace, name)
        container = pick_container(pod, options.get("container", ""),
                                   "pod {name} does not have a container")
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if not node:
            return None                # upstream: no host yet, an empty log
        params = [(k, "true") for k in ("follow", "previous", "timestamps") if options.get(k)]
        params += [(k, str(options[k])) for k in ("sinceSeconds", "sinceTime", "tailLines",
                                                  "limitBytes") if options.get(k) is not None]
        params.sort(key=lambda kv: kv[0])
        m = pod["metadata"]
        return kubelet_location(ctx, node, f"/containerLogs/{m['namespace']}/{m['name']}/"
                                f"{container}", urlencode(params), server_options,
                                stream=True, flush=bool(options.get("follow")),
                                resource="pods", name=name,
                                insecure=bool(options.get("insecureSkipTLSVerifyBackend")))


class PodProxy(Connect):
    """``pods/<name>[:port]/proxy[/<path>]`` (upstream pod ``ResourceLocation``): plain
    HTTP to the pod's IP, at the named port or the first container port."""

    def options(self, query, subpath):
        return {"kind": "PodProxyOptions", "apiVersion": "v1", "path": subpath}

    def location(self, ctx, store, namespace, name, options, server_options):
        split = split_scheme_name_port(name)
        if split is None:
            raise errors.BadRequest(f'invalid pod request "{name}"')
        scheme, pod_name, port = split
        pod = _pod(ctx, store, namespace, pod_name)
        if not port:
            port = next((str(p.get("containerPort")) for c in (pod.get("spec") or {}).get(
                "containers") or () for p in c.get("ports") or () if p.get("containerPort")), "")
        ip = ((pod.get("status") or {}).get("podIP")) or ""
        if not ip:
            raise errors.ServiceUnavailable(f'address not allowed: pod "{pod_name}" has no IP')
        try:
            port_number = int(port) if port else 80
        except ValueError:
            raise errors.BadRequest(f'invalid pod request "{name}"') from None
        cidr = unrouted_pod_ip(ctx, (pod.get("spec") or {}).get("nodeName") or "", ip)
        if cidr:
            raise errors.ServiceUnavailable(
                f"error trying to reach service: pod IP {ip} is not routed: node "
                f"{pod['spec']['nodeName']} has no pod network behind its podCIDR {cidr}")
        return Location(host=check_ip(ip, loopback=False), port=port_number,
                        path="/" + options.get("path", ""), backend="direct",
                        scheme=scheme or "http", resource="pods", name=pod_name)


EXEC = Stream("exec", kind=("", "v1", "PodExecOptions"))
ATTACH = Stream("attach", kind=("", "v1", "PodAttachOptions"))
PORT_FORWARD = PortForward("portforward", kind=("", "v1", "PodPortForwardOptions"))
LOG = Log("log", verbs=("get",), methods=("GET",), admitted=False, kind=("", "v1", "Pod"))
PROXY = PodProxy("proxy", verbs=PROXY_VERBS, methods=PROXY_METHODS, subpath=True,
                 kind=("", "v1", "PodProxyOptions"))
