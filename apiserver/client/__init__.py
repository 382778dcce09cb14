"""A small kubeconfig-aware API client for workers (scheduler, kubelets) and tools.

It speaks to the server only over HTTPS like any other client, so it imports no Django,
storage or kind modules (enforced by tests/test_layering.py).  The watch issue fills it in.
"""
