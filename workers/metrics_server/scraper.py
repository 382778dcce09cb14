"""Scraping the kubelets (upstream metrics-server pkg/scraper: client/resource/decode.go).

``parse_resource_metrics(text)`` reads the Prometheus text of ``/metrics/resource`` into a
``NodePoint`` (node CPU core-seconds and working set) and ``ContainerPoint``s keyed by
``(namespace, pod, container)``; samples without a timestamp take the scrape time.
``Scraper.scrape(nodes)`` fetches every node at once, each within ``timeout`` seconds; a node
that fails is logged and left out of that round, as upstream.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

from apiserver.client import AsyncClient, ClientConfig

log = logging.getLogger("workers.metrics_server.scraper")

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?\s*$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
ADDRESS_TYPES = ("Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP")


@dataclass
class NodePoint:
    timestamp: float
    cpu_seconds: float = -1.0
    memory: float = -1.0


@dataclass
class ContainerPoint:
    timestamp: float
    start_time: float = 0.0
    cpu_seconds: float = -1.0
    memory: float = -1.0


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def parse_resource_metrics(text: str, now: float) -> tuple[NodePoint | None, dict]:
    """The node's point (None without node samples) and the containers' points."""
    node = None
    containers: dict[tuple, ContainerPoint] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        name, labels_text, value_text, ts_text = m.groups()
        try:
            value = float(value_text)
        except ValueError:
            continue
        ts = int(ts_text) / 1000 if ts_text else now
        if name.startswith("node_"):
            node = node or NodePoint(ts)
            if name == "node_cpu_usage_seconds_total":
                node.cpu_seconds, node.timestamp = value, ts
            elif name == "node_memory_working_set_bytes":
                node.memory = value
            continue
        if not name.startswith("container_"):
            continue
        labels = {k: _unescape(v) for k, v in _LABEL.findall(labels_text or "")}
        key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
        if not all(key):
            continue
        point = containers.setdefault(key, ContainerPoint(ts))
        if name == "container_cpu_usage_seconds_total":
            point.cpu_seconds, point.timestamp = value, ts
        elif name == "container_memory_working_set_bytes":
            point.memory = value
        elif name == "container_start_time_seconds":
            point.start_time = value
    return node, {k: p for k, p in containers.items() if p.cpu_seconds >= 0 and p.memory >= 0}


def node_address(node: dict, preferred=ADDRESS_TYPES) -> str | None:
    """The first address of the preferred types the Node reports."""
    addresses = (node.get("status") or {}).get("addresses") or []
    for kind in preferred:
        for a in addresses:
            if a.get("type") == kind and a.get("address"):
                return a["address"]
    return None


def kubelet_port(node: dict) -> int:
    ep = ((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
    return int(ep.get("Port") or 0)


class Scraper:
    """Keeps one kept-alive client per kubelet endpoint; ``close()`` drops them."""

    def __init__(self, *, ca_file: str | None, cert_file: str | None, key_file: str | None,
                 insecure: bool = False, preferred=ADDRESS_TYPES, timeout: float = 10.0):
        self.ca_file, self.cert_file, self.key_file = ca_file, cert_file, key_file
        self.insecure, self.preferred, self.timeout = insecure, tuple(preferred), timeout
        self._clients: dict[str, AsyncClient] = {}

    def _client(self, url: str) -> AsyncClient:
        client = self._clients.get(url)
        if client is None:
            cfg = ClientConfig(server=url, ca_file=self.ca_file, cert_file=self.cert_file,
                               key_file=self.key_file, insecure_skip_tls_verify=self.insecure,
                               user_agent="metrics-server/v0.7.2")
            client = self._clients[url] = AsyncClient(cfg, timeout=self.timeout, max_idle=1)
        return client

    async def _one(self, node: dict):
        name = (node.get("metadata") or {}).get("name", "")
        address, port = node_address(node, self.preferred), kubelet_port(node)
        if not address or not port:
            log.info("node %s: no address of %s or no kubelet port", name,
                     ",".join(self.preferred))
            return name, None, {}
        host = f"[{address}]" if ":" in address else address
        url = f"https://{host}:{port}"
        try:
            resp = await self._client(url).request("GET", "/metrics/resource")
        except (OSError, asyncio.TimeoutError) as exc:
            log.warning("node %s: scrape of %s failed: %s", name, url, type(exc).__name__)
            return name, None, {}
        if resp.status != 200:
            log.warning("node %s: scrape of %s answered %d", name, url, resp.status)
            return name, None, {}
        node_point, containers = parse_resource_metrics(resp.body.decode("utf-8", "replace"),
                                                        time.time())
        return name, node_point, containers

    async def scrape(self, nodes: list[dict]) -> list[tuple[str, NodePoint | None, dict]]:
        return list(await asyncio.gather(*(self._one(n) for n in nodes)))

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
