"""Pod IPs out of the node's podCIDR (the job of the CNI's host-local IPAM upstream).

``PodIPs(cidr).allocate(uid)`` gives a pod the lowest free address (the network address, the
first host address — the bridge's — and the broadcast address are never given); the same uid
gets the same address back; ``reserve`` keeps an address a pod already reports (a restarted
kubelet adopting its pods); ``release`` frees it.  ``None`` when the range is exhausted.
"""
from __future__ import annotations

import ipaddress


class PodIPs:
    def __init__(self, cidr: str):
        self.network = ipaddress.ip_network(cidr, strict=False)
        self.by_uid: dict[str, str] = {}
        self._used: set[str] = set()

    def allocate(self, uid: str) -> str | None:
        if uid in self.by_uid:
            return self.by_uid[uid]
        hosts = self.network.hosts()
        next(hosts, None)                                   # .1: the bridge
        for addr in hosts:
            ip = str(addr)
            if ip not in self._used:
                self._used.add(ip)
                self.by_uid[uid] = ip
                return ip
        return None

    def reserve(self, uid: str, ip: str) -> bool:
        try:
            if ipaddress.ip_address(ip) not in self.network:
                return False
        except ValueError:
            return False
        if ip in self._used and self.by_uid.get(uid) != ip:
            return False
        self._used.add(ip)
        self.by_uid[uid] = ip
        return True

    def release(self, uid: str) -> None:
        ip = self.by_uid.pop(uid, None)
        if ip:
            self._used.discard(ip)
