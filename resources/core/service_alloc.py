"""Cluster-IP and NodePort allocation for Services.

Upstream keeps allocation bitmaps in etcd (``pkg/registry/core/service/ipallocator`` and
``portallocator``).  Here the stored Services *are* the allocation record: what is in use
is read by scanning them, so a deleted Service frees its IP and ports with no extra
bookkeeping and nothing can leak.  Two creates racing in one process cannot pick the same
value: a picked value stays reserved in memory for ``RESERVATION_SECONDS`` (long enough for
the write to land; a value the client names is only checked, not reserved, so a create
that fails validation can be retried with it at once).  Across processes a collision needs two random picks in the same
instant to coincide; as upstream, dynamic picks are random in the upper part of the range
(the lower ``offset`` addresses are left for statically chosen ones such as the
``kubernetes`` Service's first address).

Messages are upstream's: ``provided IP is already allocated``, ``the provided IP (…) is not
in the valid range. The range of valid IPs is …``, ``provided port is already allocated``,
``provided port is not in the valid range. The range of valid ports is 30000-32767``.
"""
from __future__ import annotations

import ipaddress
import random
import threading
import time
from typing import Callable, Iterable

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
NODE_PORT_RANGE = (30000, 32767)
RESERVATION_SECONDS = 30.0

ERR_IP_ALLOCATED = "provided IP is already allocated"
ERR_PORT_ALLOCATED = "provided port is already allocated"


class AllocationError(Exception):
    """A requested value cannot be had; ``str()`` is upstream's message."""


class RangeFull(AllocationError):
    pass


def range_offset(size: int) -> int:
    """Upstream ``calculateRangeOffset``: size/16 clamped to [16, 256] (0 for tiny ranges);
    dynamic allocation prefers values at or above the offset."""
    if size < 16:
        return 0
    return min(max(size // 16, 16), 256)


class ServiceAllocator:
    """Hands out cluster IPs from ``cidr`` and node ports from ``node_ports``.

    ``list_services()`` returns the stored Services (dicts); values they use are taken.
    """

    def __init__(self, list_services: Callable[[], Iterable[dict]],
                 cidr: str = DEFAULT_SERVICE_CIDR, node_ports: tuple = NODE_PORT_RANGE,
                 rng: random.Random | None = None):
        self.list_services = list_services
        self.network = ipaddress.ip_network(cidr)
        self.node_ports = node_ports
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self._reserved: dict = {}           # value -> monotonic expiry

    # ---- cluster IPs ------------------------------------------------------------------
    def first_ip(self) -> str:
        """The address the ``kubernetes`` Service gets (network + 1)."""
        return str(self.network.network_address + 1)

    def _ip_bounds(self) -> tuple[int, int]:
        """Offsets [lo, hi] of usable addresses: IPv4 excludes network and broadcast."""
        size = self.network.num_addresses
        if self.network.version == 4:
            return 1, size - 2
        return 1, size - 1

    def check_ip(self, ip: str, *, owner: tuple | None = None) -> None:
        """Raise AllocationError unless ``ip`` is inside the range and not in use (by a
        service other than ``owner`` = (namespace, name))."""
        addr = ipaddress.ip_address(ip)
        lo, hi = self._ip_bounds()
        offset = int(addr) - int(self.network.network_address)
        if addr not in self.network or not lo <= offset <= hi:
            raise AllocationError(f"the provided IP ({ip}) is not in the valid range. "
                                  f"The range of valid IPs is {self.network}")
        with self._lock:
            if ip in self._used_ips(owner) or self._is_reserved(("ip", ip)):
                raise AllocationError(ERR_IP_ALLOCATED)

    def allocate_ip(self) -> str:
        lo, hi = self._ip_bounds()
        base = int(self.network.network_address)
        with self._lock:
            used = self._used_ips(None)
            offset = self._pick(lo, hi, lambda o: str(ipaddress.ip_address(base + o)) in used
                                or self._is_reserved(("ip", str(ipaddress.ip_address(base + o)))))
            if offset is None:
                raise RangeFull("range is full")
            ip = str(ipaddress.ip_address(base + offset))
            self._reserve(("ip", ip))
            return ip

    # ---- node ports -------------------------------------------------------------------
    def check_node_port(self, port: int, *, owner: tuple | None = None) -> None:
        lo, hi = self.node_ports
        if not lo <= port <= hi:
            raise AllocationError("provided port is not in the valid range. "
                                  f"The range of valid ports is {lo}-{hi}")
        with self._lock:
            if port in self._used_ports(owner) or self._is_reserved(("port", port)):
                raise AllocationError(ERR_PORT_ALLOCATED)

    def allocate_node_port(self, taken: set = frozenset()) -> int:
        """A free node port; ``taken`` are ports the caller's own service already uses."""
        lo, hi = self.node_ports
        with self._lock:
            used = self._used_ports(None) | set(taken)
            port = self._pick(0, hi - lo, lambda o: lo + o in used or self._is_reserved(("port", lo + o)))
            if port is None:
                raise RangeFull("range is full")
            self._reserve(("port", lo + port))
            return lo + port

    # ---- helpers ----------------------------------------------------------------------
    def _pick(self, lo: int, hi: int, taken) -> int | None:
        """A random free offset in [lo, hi], preferring the upper band (upstream's
        random-scan-with-offset strategy)."""
        offset = range_offset(hi - lo + 1)
        for band_lo, band_hi in ((lo + offset, hi), (lo, lo + offset - 1)):
            if band_lo > band_hi:
                continue
            for _ in range(64):
                candidate = self.rng.randint(band_lo, band_hi)
                if not taken(candidate):
                    return candidate
            start = self.rng.randint(band_lo, band_hi)
            for i in range(band_hi - band_lo + 1):
                candidate = band_lo + (start - band_lo + i) % (band_hi - band_lo + 1)
                if not taken(candidate):
                    return candidate
        return None

    def _services(self, owner):
        for svc in self.list_services():
            m = svc.get("metadata") or {}
            if owner is not None and (m.get("namespace", ""), m.get("name")) == owner:
                continue
            yield svc

    def _used_ips(self, owner) -> set:
        used = set()
        for svc in self._services(owner):
            spec = svc.get("spec") or {}
            used.update(ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")])
                        if ip and ip != "None")
        self._settle("ip", used)
        return used

    def _used_ports(self, owner) -> set:
        used = set()
        for svc in self._services(owner):
            spec = svc.get("spec") or {}
            used.update(p.get("nodePort") for p in spec.get("ports") or []
                        if isinstance(p, dict) and p.get("nodePort"))
            if spec.get("healthCheckNodePort"):
                used.add(spec["healthCheckNodePort"])
        self._settle("port", used)
        return used

    def _settle(self, kind: str, stored: set) -> None:
        """A reserved value that has reached storage is tracked there from now on; dropping
        its reservation lets it be reused as soon as its Service is deleted."""
        for key in [k for k in self._reserved if k[0] == kind and k[1] in stored]:
            del self._reserved[key]

    def _is_reserved(self, key) -> bool:
        expiry = self._reserved.get(key)
        return expiry is not None and expiry > time.monotonic()

    def _reserve(self, key) -> None:
        now = time.monotonic()
        for k in [k for k, exp in self._reserved.items() if exp <= now]:
            del self._reserved[k]
        self._reserved[key] = now + RESERVATION_SECONDS
