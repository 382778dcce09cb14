"""Flags and the process of the metrics server (upstream metrics-server cmd/metrics-server
and pkg/server: options, the scrape loop, the API).

``main(argv)`` runs until SIGTERM/SIGINT and returns 0; bad flags or an unusable kubeconfig
return 2.  Without ``--client-ca-file`` / ``--requestheader-client-ca-file`` the front proxy's
settings are read from the ConfigMap kube-system/extension-apiserver-authentication, as
upstream's delegated authentication does at start.  The server binds 127.0.0.1 unless
``--bind-address`` says otherwise (upstream binds every address; here the aggregator is
local).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import tempfile

import orjson

from apiserver.client import ApiError, AsyncClient, ConfigError, Informer, load_kubeconfig
from workers.scheduler.app import duration
from workers.serving.delegated import (ALWAYS_ALLOW_PATHS, DelegatedAuthenticator,
                                       DelegatedAuthorizer, RequestHeaderConfig)
from workers.serving.https import HttpsServer

from .api import MetricsAPI
from .scraper import ADDRESS_TYPES, Scraper
from .store import MetricsStore

log = logging.getLogger("workers.metrics_server")

AUTH_CONFIGMAP = "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"


def _csv(text: str) -> tuple:
    return tuple(p.strip() for p in (text or "").split(",") if p.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--kubeconfig", required=True, help="kubeconfig of the metrics server's identity")
    a("--secure-port", type=int, default=4443, help="the HTTPS port")
    a("--bind-address", default="127.0.0.1")
    a("--tls-cert-file", required=True, help="serving certificate (for the APIService's Service)")
    a("--tls-private-key-file", required=True)
    a("--metric-resolution", type=duration, default=15.0,
      help="interval between scrapes of the kubelets")
    a("--kubelet-preferred-address-types", type=_csv, default=ADDRESS_TYPES)
    a("--kubelet-insecure-tls", action="store_true",
      help="do not verify the kubelets' serving certificates")
    a("--kubelet-certificate-authority", default="",
      help="CA of the kubelets' serving certificates (default: the kubeconfig's CA)")
    a("--kubelet-client-certificate", default="",
      help="client certificate for the kubelets (default: the kubeconfig's)")
    a("--kubelet-client-key", default="")
    a("--client-ca-file", default="", help="(default: from extension-apiserver-authentication)")
    a("--requestheader-client-ca-file", default="")
    a("--requestheader-allowed-names", type=_csv, default=None)
    a("--requestheader-username-headers", type=_csv, default=None)
    a("--requestheader-group-headers", type=_csv, default=None)
    a("--requestheader-extra-headers-prefix", type=_csv, default=None)
    a("--authorization-always-allow-paths", type=_csv, default=ALWAYS_ALLOW_PATHS)
    a("--watch-transport", choices=("websocket", "http"), default="websocket")


class MetricsServer:
    """Informers, scraper, store and the HTTPS API of one metrics server."""

    def __init__(self, args, client: AsyncClient):
        self.args, self.client = args, client
        self.store = MetricsStore()
        self.node_informer = Informer(client, "/api/v1/nodes", transport=args.watch_transport,
                                      name="nodes")
        self.pod_informer = Informer(client, "/api/v1/pods", transport=args.watch_transport,
                                     name="pods")
        self._files: list[str] = []

    def nodes(self) -> dict:
        return dict(self.node_informer.cache)

    def pods(self) -> dict:
        return {((p.get("metadata") or {}).get("namespace", ""),
                 (p.get("metadata") or {}).get("name", "")): p
                for p in self.pod_informer.cache.values()}

    def _pem_file(self, text: str) -> str:
        fd, path = tempfile.mkstemp(prefix="metrics-server-", suffix=".crt")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self._files.append(path)
        return path

    async def authentication(self, stop: asyncio.Event) -> tuple[str, RequestHeaderConfig]:
        """(client CA file, front-proxy settings) from the flags, the rest from the
        extension-apiserver-authentication ConfigMap (retried until readable: the binding
        that lets this identity read it may be made just after this process starts)."""
        a = self.args
        data = {}
        while not (a.client_ca_file and a.requestheader_client_ca_file) and not stop.is_set():
            try:
                data = (await self.client.get(AUTH_CONFIGMAP)).get("data") or {}
                break
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                log.info("cannot read extension-apiserver-authentication yet: %s", exc)
                try:
                    await asyncio.wait_for(stop.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass

        def listed(key, flag, default):
            if flag is not None:
                return tuple(flag)
            try:
                return tuple(orjson.loads(data[key])) if key in data else default
            except orjson.JSONDecodeError:
                return default
        client_ca = a.client_ca_file or (self._pem_file(data["client-ca-file"])
                                         if data.get("client-ca-file") else "")
        rh_ca = a.requestheader_client_ca_file or (
            self._pem_file(data["requestheader-client-ca-file"])
            if data.get("requestheader-client-ca-file") else "")
        return client_ca, RequestHeaderConfig(
            ca_file=rh_ca,
            allowed_names=listed("requestheader-allowed-names", a.requestheader_allowed_names, ()),
            username_headers=listed("requestheader-username-headers",
                                    a.requestheader_username_headers, ("X-Remote-User",)),
            group_headers=listed("requestheader-group-headers", a.requestheader_group_headers,
                                 ("X-Remote-Group",)),
            extra_prefixes=listed("requestheader-extra-headers-prefix",
                                  a.requestheader_extra_headers_prefix, ("X-Remote-Extra-",)))

    def scraper(self) -> Scraper:
        a, cfg = self.args, self.client.config
        ca = a.kubelet_certificate_authority or cfg.ca_file or \
            (self._pem_file(cfg.ca_data.decode()) if cfg.ca_data else None)
        cert, key = a.kubelet_client_certificate, a.kubelet_client_key
        if not cert:
            cert = cfg.cert_file or (self._pem_file(cfg.cert_data.decode()) if cfg.cert_data else None)
            key = cfg.key_file or (self._pem_file(cfg.key_data.decode()) if cfg.key_data else None)
        return Scraper(ca_file=ca, cert_file=cert, key_file=key, insecure=a.kubelet_insecure_tls,
                       preferred=a.kubelet_preferred_address_types)

    async def scrape_loop(self, scraper: Scraper, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            nodes = [n for n in self.nodes().values() if _ready(n)]
            try:
                self.store.store(await scraper.scrape(nodes))
            except Exception:                          # one bad round must not end the loop
                log.exception("scrape round failed")
            log.debug("scraped %d node(s) in %.3f s", len(nodes), loop.time() - started)
            try:
                await asyncio.wait_for(stop.wait(),
                                       max(self.args.metric_resolution - (loop.time() - started), 0.1))
            except asyncio.TimeoutError:
                pass

    async def run(self, stop: asyncio.Event) -> None:
        a = self.args
        tasks = [self.node_informer.start(), self.pod_informer.start()]
        scraper = self.scraper()
        server = None
        try:
            client_ca, requestheader = await self.authentication(stop)
            authn = DelegatedAuthenticator(self.client, client_ca, requestheader)
            authz = DelegatedAuthorizer(self.client,
                                        always_allow_paths=a.authorization_always_allow_paths)
            server = HttpsServer(MetricsAPI(self, authn, authz), a.bind_address, a.secure_port,
                                 a.tls_cert_file, a.tls_private_key_file,
                                 [client_ca, requestheader.ca_file], name="metrics-server")
            await server.start()
            log.info("metrics server serving on %s:%d", a.bind_address, server.port)
            await self.node_informer.wait_synced()
            tasks.append(asyncio.create_task(self.scrape_loop(scraper, stop)))
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if server is not None:
                await server.stop()
            await scraper.close()
            for path in self._files:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def _ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def main(argv=None, verbosity: int = 1) -> int:
    parser = argparse.ArgumentParser(prog="metrics-server", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if verbosity > 1 else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_kubeconfig(args.kubeconfig)
    except (ConfigError, OSError) as exc:
        print(f"metrics-server: {exc}")
        return 2
    config.user_agent = "metrics-server/v0.7.2"

    async def go():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with AsyncClient(config) as client:
            await MetricsServer(args, client).run(stop)
    asyncio.run(go())
    return 0
