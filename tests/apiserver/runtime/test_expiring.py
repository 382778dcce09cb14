"""ExpiringLRU: entries expire one by one, a read refreshes recency, the least recently used
goes past the size, and a TTL of zero stores nothing."""
from apiserver.runtime.expiring import ExpiringLRU


class Clock:
    now = 100.0

    def __call__(self):
        return self.now


def test_expiry_recency_and_size():
    clock = Clock()
    cache = ExpiringLRU(2, clock)
    cache.add("a", 1, ttl=10)
    cache.add("b", 2, ttl=1)
    assert cache.get("a") == 1                 # a is now the most recently used
    cache.add("c", 3, ttl=10)                  # b, the least recently used, goes
    assert cache.get("b") is None and cache.get("c") == 3 and len(cache) == 2
    clock.now += 10
    assert cache.get("a") is None and cache.get("c") is None and len(cache) == 0
    cache.add("d", 4, ttl=0)
    assert cache.get("d") is None and len(cache) == 0
