"""options → :class:`Config` → :class:`CompletedConfig`: everything the servers run with.

Upstream's shape (kubernetes/apiserver:pkg/server/config.go ``Config``, ``Complete()``,
``CompletedConfig.New(name, delegationTarget)``): a :class:`Config` is built from the flags
and may be adjusted (tests swap the storage or the authorizer); :meth:`Config.complete`
fills every default and builds the shared, per-process pieces once — storage, the store
registry, the authenticator, the authorizer, the admission chain with its plugin
initializer, the watch cache, the request handler — and returns a frozen
:class:`CompletedConfig`.  Servers (``apiserver.server.generic``) and filters receive what
they need from it; nothing reads serving state from a module.

May import: every apiserver package below ``server``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings

from apiserver.admission import config as admission_config
from apiserver.admission.base import ORDER, Chain, resolve
from apiserver.authentication import mechanisms
from apiserver.authentication.serviceaccount_tokens import Issuer
from apiserver.authorization.base import Dependencies as AuthorizerDependencies
from apiserver.authorization.base import build as build_authorizer
from apiserver.endpoints.connect import ConnectHandler
from apiserver.endpoints.watch import HTTPWatch, WatchSettings
from apiserver.endpoints.watch_ws import WebsocketWatch
from apiserver.options import Options
from apiserver.registry.initializer import Initializer
from apiserver.registry.store import StoreRegistry
from apiserver.runtime.errors import NotFound
from apiserver.runtime.scheme import Scheme, scheme as registered_kinds
from apiserver.server import hooks
from apiserver.server.bridge import DjangoBridge
from apiserver.server.generic import GenericAPIServer
from apiserver.storage.cacher import Cacher
from apiserver.storage.overrides import Overrides, registry as registered_storage
from apiserver.storage.sql import SQLStorage
from apiserver.storage.watch_cache import POLL_SECONDS

log = logging.getLogger("apiserver")


class StorageFactory:
    """Which Storage holds a resource (upstream ``serverstorage.StorageFactory``): the JSON
    document store by default, or an override per resource (``"roles.rbac.authorization.k8s.io"``
    → relational models) behind the same Storage protocol."""

    def __init__(self, default, overrides: dict | None = None):
        self.default = default
        self.overrides = dict(overrides or {})

    def __call__(self, resource: str):
        return self.overrides.get(resource, self.default)

    def all(self) -> list:
        out = [self.default]
        out += [s for s in self.overrides.values() if all(s is not o for o in out)]
        return out


class ObjectGetter:
    """``(resource, namespace, name) → dict | None`` over the core/v1 Stores: how token
    authenticators see live ServiceAccounts, Secrets, Pods and Nodes."""

    def __init__(self, stores: StoreRegistry):
        self.stores = stores

    def __call__(self, resource: str, namespace: str, name: str) -> dict | None:
        store = self.stores.store("", "v1", resource)
        if store is None:
            return None
        try:
            return store.load(namespace, name)[0]
        except NotFound:
            return None


@dataclass
class Config:
    """The adjustable configuration.  Every field left None is defaulted by :meth:`complete`."""

    options: Options = field(default_factory=Options)
    scheme: Scheme = registered_kinds
    storage: object = None                 # the document Storage (default: SQLStorage)
    # resources apps store themselves (rbac's relational rows), then per-Config overrides
    storage_registry: Overrides = registered_storage
    storage_overrides: dict = field(default_factory=dict)
    authenticator: object = None           # default: the mechanisms the flags turn on
    # an Authorizer, else the union of ``authorization_modes`` built in complete(); neither
    # means closed: only system:masters may do anything (never "allow all" by accident)
    authorizer: object = None
    authorization_modes: tuple = ()
    admission_plugins: tuple | None = None  # None: from the options' enable/disable lists
    post_start_hooks: dict | None = None    # None: every hook apps registered
    watch_poll_seconds: float = POLL_SECONDS
    request_threads: int | None = None
    request_executor: object = None        # default: a pool of ``request_threads`` threads

    @classmethod
    def from_options(cls, options: Options) -> "Config":
        """The configuration the flags describe (upstream ``BuildGenericConfig``)."""
        return cls(options=options, authorization_modes=tuple(options.authorization_modes))

    def complete(self) -> "CompletedConfig":
        o = self.options
        storage = self.storage if self.storage is not None else SQLStorage()
        storage_for = StorageFactory(storage, {**self.storage_registry.build(storage),
                                               **self.storage_overrides})
        if self.admission_plugins is None:
            names, absent = resolve(o.enable_admission_plugins, o.disable_admission_plugins)
        else:
            names, absent = tuple(self.admission_plugins), ()
        issuer = Issuer(o.service_account_signing_key_file, o.service_account_issuer,
                        int(o.service_account_max_token_expiration))
        stores = StoreRegistry(storage_for, admission=None)
        authorizer = self.authorizer if self.authorizer is not None else build_authorizer(
            self.authorization_modes, AuthorizerDependencies(
                options=o, stores=stores, storages=tuple(storage_for.all())))
        authenticator = self.authenticator or mechanisms.build(mechanisms.Dependencies(
            options=o, get_object=ObjectGetter(stores), token_issuer=issuer,
            api_audiences=mechanisms.api_audiences(o)))
        initializer = Initializer(stores=stores, authorizer=authorizer, options=o,
                                  token_issuer=issuer, authenticator=authenticator)
        stores.initializer = initializer
        stores.admission = Chain(names, initializer, admission_config.read(
            o.admission_control_config_file, known=ORDER))
        cacher = Cacher(storage, poll_seconds=self.watch_poll_seconds,
                        database=settings.DATABASES["default"])
        watch = WatchSettings(min_request_timeout=o.min_request_timeout,
                              bookmark_seconds=o.watch_bookmark_interval,
                              send_timeout=o.watch_send_timeout)
        # watches stream from the cache on the loop (HTTP and websockets); everything else
        # crosses into Django views on the request thread pool
        bridge = DjangoBridge(self.request_threads or o.request_threads, self.request_executor)
        handler = WebsocketWatch(HTTPWatch(bridge, cacher, watch), cacher, watch)
        # connect-style subresources (exec, attach, portforward, log, proxy) on the loop
        handler = ConnectHandler(handler, o, bridge.pool)
        post_start = dict(hooks.registered() if self.post_start_hooks is None
                          else self.post_start_hooks)
        return CompletedConfig(
            options=o, scheme=self.scheme, storage=storage, storage_for=storage_for,
            stores=stores, authenticator=authenticator, authorizer=authorizer,
            admission=stores.admission, absent_admission=absent, token_issuer=issuer,
            cacher=cacher, handler=handler, executor=bridge.pool,
            post_start_hooks=post_start)


@dataclass(frozen=True)
class CompletedConfig:
    """The finished configuration, shared by the three servers of one process."""

    options: Options
    scheme: Scheme
    storage: object
    storage_for: StorageFactory
    stores: StoreRegistry
    authenticator: object
    authorizer: object
    admission: Chain
    absent_admission: tuple
    token_issuer: Issuer
    cacher: Cacher
    handler: object
    executor: object                       # the request thread pool (blocking work)
    post_start_hooks: dict

    def new(self, name: str, delegate):
        """A GenericAPIServer called ``name`` that hands what it does not serve to
        ``delegate`` (upstream ``CompletedConfig.New``)."""
        return GenericAPIServer(name, self, delegate)

    def run_post_start_hooks(self, stop) -> None:
        """Run every post-start hook once (upstream ``RunPostStartHooks``); a hook may start
        a thread that runs until ``stop`` (a ``threading.Event``) is set."""
        context = hooks.HookContext(stores=self.stores, options=self.options, stop=stop)
        for name, fn in self.post_start_hooks.items():
            fn(context)
        if self.absent_admission:
            log.info("default admission plugins not implemented yet: %s",
                     ", ".join(self.absent_admission))
