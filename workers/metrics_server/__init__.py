"""The metrics server: ``metrics.k8s.io/v1beta1`` NodeMetrics and PodMetrics from the
kubelets' ``/metrics/resource``, served as an extension API server behind the aggregator
(upstream kubernetes-sigs/metrics-server, v0.7).

It is a separate process and a pure API client, exactly as a third-party extension server:

* ``scraper``: every ``--metric-resolution`` it GETs each Ready node's ``/metrics/resource``
  over TLS (the kubelet's address of ``--kubelet-preferred-address-types`` and its
  ``daemonEndpoints`` port), as its own client certificate;
* ``store``: the last two points per node and container; CPU is the rate between them;
* ``api``: discovery and the two resources, behind delegated authentication (the front
  proxy's client certificate and request headers, read from the
  extension-apiserver-authentication ConfigMap as upstream) and SubjectAccessReview;
* ``app``: flags, informers on nodes and pods (labels and metadata), and the process.
"""
