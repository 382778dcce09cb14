"""Workers: the processes that act on the cluster through its public API, as kube-scheduler
and the kubelet do (``scheduler/``, ``kubelet/``) — each a separate process with its own
identity, never sharing the server's database.

May import: ``apiserver.client`` (HTTP + websocket watches, informers), the standard library
and their own package; ``workers/management/`` alone may import Django's management base
(the commands are thin shells over the workers' own ``main`` functions) and ``apps.py``
Django's AppConfig.  Never Django's ORM, storage or kind modules (tests/test_layering.py).
"""
