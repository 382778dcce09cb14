"""Plain-dict Nodes and Pods for the scheduler's unit tests."""
from __future__ import annotations

from workers.scheduler.nodeinfo import build_nodes


def node(name, cpu="4", memory="8Gi", pods="110", labels=None, taints=None, **extra):
    alloc = {"cpu": cpu, "memory": memory, "pods": pods, **extra.pop("alloc", {})}
    return {"metadata": {"name": name,
                         "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": taints or [], **extra},
            "status": {"allocatable": alloc, "capacity": dict(alloc)}}


def pod(name, ns="default", cpu=None, memory=None, node_name=None, labels=None, priority=None,
        **spec):
    res = {}
    if cpu:
        res["cpu"] = cpu
    if memory:
        res["memory"] = memory
    container = {"name": "c", "image": "nginx", "resources": {"requests": res} if res else {}}
    for key in ("ports",):
        if key in spec:
            container[key] = spec.pop(key)
    s = {"containers": [container], "schedulerName": "default-scheduler", **spec}
    if node_name:
        s["nodeName"] = node_name
    if priority is not None:
        s["priority"] = priority
    return {"metadata": {"name": name, "namespace": ns, "labels": labels or {},
                         "uid": f"uid-{name}"},
            "spec": s, "status": {"phase": "Pending"}}


def infos(nodes, pods=()):
    return build_nodes(list(nodes), list(pods))
