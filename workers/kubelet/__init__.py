"""A kubelet as a pure API client (upstream pkg/kubelet), with a simulated runtime like kwok's.

Modules, one idea each: ``config`` (flags → KubeletConfig), ``node`` (registration and node
status), ``lease`` (the kube-node-lease heartbeat), ``runtime`` (the container runtime
interface) and ``simulated`` (its default implementation), ``ipam`` (pod IPs from the
podCIDR), ``status`` (pure pod status computations), ``pods`` (the pod worker), ``probes``
(liveness probing through the runtime), ``events``
(the event recorder) and ``kubelet`` (the composition, and several kubelets per process).

May import: ``apiserver.client`` and the standard library only (tests/test_layering.py).
"""
