"""kube-scheduler as an API client process (``manage.py scheduler`` / ``python -m
workers.scheduler``), after upstream's pkg/scheduler.

* ``queue``: the scheduling queue (priority order, backoff, unschedulable pods).
* ``nodeinfo``, ``quantity``, ``selectors``: the cache's view of a node and its pods.
* ``filters``, ``affinity``, ``spread``: Filter plugins; ``scores`` (+ the Score halves of
  ``affinity`` / ``spread``): Score plugins; ``framework``: one scheduling cycle.
* ``preemption``: DefaultPreemption; ``binder``: the API writes; ``apiserver.client.leaderelection``: the
  Lease-based leader election; ``scheduler``: the cache, handlers and loops; ``app``: flags
  and ``main``.

Imports only ``apiserver.client`` and the standard library (tests/test_layering.py).
"""
