"""The controller manager (``manage.py controller-manager``): upstream's kube-controller-manager
controllers as pure API clients — shared informers (one watch per kind for every controller,
``informers``), rate-limited work queues (``workqueue``) and one module per controller named
after upstream's (``replicaset``, ``deployment`` …).

May import: ``apiserver.client``, the standard library and this package (tests/test_layering.py).
"""
