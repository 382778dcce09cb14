"""A small kubeconfig-aware API client for workers (scheduler, kubelets) and tools.

It speaks to the server only over HTTPS like any other client, so it imports no Django,
storage or kind modules (enforced by tests/test_layering.py).

* ``kubeconfig``: ``load_kubeconfig()`` → ``ClientConfig`` (server, TLS, credentials).
* ``rest``: ``AsyncClient`` (asyncio HTTP/1.1 keep-alive JSON client); ``errors``: ``ApiError``.
* ``watch``: ``watch()``, an async iterator of watch events over HTTP or websockets.
* ``informer``: ``Informer``, list + watch + resume + re-list on 410, with a local cache.
"""
from apiserver.client.errors import ApiError
from apiserver.client.informer import Informer, key_of
from apiserver.client.kubeconfig import ClientConfig, ConfigError, load_kubeconfig
from apiserver.client.rest import AsyncClient
from apiserver.client.watch import watch

__all__ = ["ApiError", "AsyncClient", "ClientConfig", "ConfigError", "Informer", "key_of",
           "load_kubeconfig", "watch"]
