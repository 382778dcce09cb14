"""The Kubernetes CEL libraries for quantities, URLs, IPs and CIDRs (upstream
k8s.io/apiserver ``pkg/cel/library/quantity.go``, ``urls.go``, ``ip.go``, ``cidr.go``).

cel-python dispatches a member call ``x.f(y)`` to the function ``f(x, y)``, so each name
below serves both forms where upstream has both (``ip("10.0.0.1")`` and ``cidr.ip()``).
Values are small wrapper classes; the functions refuse other types with upstream's
"no such overload" as cel-go does.  Errors become CEL evaluation errors (the text of the
exception), which callers turn into upstream's "resulted in error" messages.

May import: celpy, ``apiserver.runtime.quantity``.
"""
from __future__ import annotations

import ipaddress
import urllib.parse
from fractions import Fraction

from celpy import celtypes

from apiserver.runtime.quantity import Quantity, QuantityError, parse_quantity

INT64 = (-(1 << 63), (1 << 63) - 1)


def _overload(name: str):
    return TypeError(f"no such overload: {name}")


# ---- quantity ------------------------------------------------------------------------
class CELQuantity:
    """A ``resource.Quantity`` value in CEL (``kubernetes.Quantity``)."""

    __slots__ = ("q",)

    def __init__(self, q: Quantity):
        self.q = q

    def __eq__(self, other):
        return isinstance(other, CELQuantity) and self.q.value == other.q.value

    def __hash__(self):
        return hash(self.q.value)

    def __str__(self):
        return str(self.q)


def _quantity(text):
    if isinstance(text, CELQuantity):
        return text
    if not isinstance(text, str):
        raise _overload("quantity")
    try:
        return CELQuantity(parse_quantity(str(text)))
    except QuantityError as exc:
        raise ValueError(str(exc)) from None


def _is_quantity(text):
    try:
        parse_quantity(str(text))
    except QuantityError:
        return celtypes.BoolType(False)
    return celtypes.BoolType(True)


def _q(value, name) -> Fraction:
    if isinstance(value, CELQuantity):
        return value.q.value
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(int(value))
    raise _overload(name)


def _is_integer(q):
    v = _q(q, "isInteger")
    return celtypes.BoolType(v.denominator == 1 and INT64[0] <= v <= INT64[1])


def _as_integer(q):
    v = _q(q, "asInteger")
    if v.denominator != 1 or not INT64[0] <= v <= INT64[1]:
        raise ValueError("cannot convert value to integer")
    return celtypes.IntType(int(v))


def _arith(op):
    def fn(a, b):
        result = op(_q(a, "add"), _q(b, "add"))
        return CELQuantity(Quantity(result, a.q.format))
    return fn


def _compare(a, b):
    x, y = _q(a, "compareTo"), _q(b, "compareTo")
    return celtypes.IntType((x > y) - (x < y))


QUANTITY = {
    "quantity": _quantity, "isQuantity": _is_quantity,
    "isInteger": _is_integer, "asInteger": _as_integer,
    "asApproximateFloat": lambda q: celtypes.DoubleType(float(_q(q, "asApproximateFloat"))),
    "sign": lambda q: celtypes.IntType((_q(q, "sign") > 0) - (_q(q, "sign") < 0)),
    "add": _arith(lambda x, y: x + y), "sub": _arith(lambda x, y: x - y),
    "isGreaterThan": lambda a, b: celtypes.BoolType(_compare(a, b) > 0),
    "isLessThan": lambda a, b: celtypes.BoolType(_compare(a, b) < 0),
    "compareTo": _compare,
}


# ---- url -----------------------------------------------------------------------------
class CELURL:
    """A parsed URL (``kubernetes.URL``), as Go's ``url.ParseRequestURI`` accepts them."""

    __slots__ = ("parts", "text")

    def __init__(self, text: str):
        parts = urllib.parse.urlsplit(text)
        # ParseRequestURI: an absolute URI or an absolute path, no fragment
        if not (parts.scheme or text.startswith("/")) or "#" in text:
            raise ValueError(f"URL parse error during conversion from string: parse "
                             f'"{text}": invalid URI for request')
        self.parts, self.text = parts, text

    def __eq__(self, other):
        return isinstance(other, CELURL) and self.text == other.text

    def __hash__(self):
        return hash(self.text)

    def __str__(self):
        return self.text


def _url(text):
    if not isinstance(text, str):
        raise _overload("url")
    return CELURL(str(text))


def _is_url(text):
    try:
        CELURL(str(text))
    except ValueError:
        return celtypes.BoolType(False)
    return celtypes.BoolType(True)


def _u(value, name) -> CELURL:
    if not isinstance(value, CELURL):
        raise _overload(name)
    return value


def _hostname(u):
    host = _u(u, "getHostname").parts.netloc.rpartition("@")[2]
    if host.startswith("["):
        return celtypes.StringType(host[1:host.find("]")])
    return celtypes.StringType(host.rpartition(":")[0] if ":" in host else host)


def _port(u):
    host = _u(u, "getPort").parts.netloc.rpartition("@")[2]
    tail = host[host.find("]") + 1:] if host.startswith("[") else host
    return celtypes.StringType(tail.rpartition(":")[2] if ":" in tail else "")


def _query(u):
    pairs = urllib.parse.parse_qs(_u(u, "getQuery").parts.query, keep_blank_values=True)
    return celtypes.MapType({celtypes.StringType(k): celtypes.ListType(
        [celtypes.StringType(v) for v in vs]) for k, vs in pairs.items()})


URL = {
    "url": _url, "isURL": _is_url,
    "getScheme": lambda u: celtypes.StringType(_u(u, "getScheme").parts.scheme),
    "getHost": lambda u: celtypes.StringType(
        _u(u, "getHost").parts.netloc.rpartition("@")[2]),
    "getHostname": _hostname, "getPort": _port,
    "getEscapedPath": lambda u: celtypes.StringType(_u(u, "getEscapedPath").parts.path),
    "getQuery": _query,
}


# ---- ip and cidr ---------------------------------------------------------------------
class CELIP:
    __slots__ = ("addr",)

    def __init__(self, addr):
        self.addr = addr

    def __eq__(self, other):
        return isinstance(other, CELIP) and self.addr == other.addr

    def __hash__(self):
        return hash(self.addr)

    def __str__(self):
        return str(self.addr)


class CELCIDR:
    __slots__ = ("net", "addr")

    def __init__(self, net, addr):
        self.net, self.addr = net, addr      # the prefix, and the address as written

    def __eq__(self, other):
        return isinstance(other, CELCIDR) and (self.net, self.addr) == (other.net, other.addr)

    def __hash__(self):
        return hash((self.net, self.addr))

    def __str__(self):
        return f"{self.addr}/{self.net.prefixlen}"


def _parse_ip(text: str):
    # upstream refuses IPv4-mapped IPv6 and zones, as netip.ParseAddr with those checks
    if "%" in text:
        raise ValueError(f"IP address with zone value is not allowed: {text}")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f'IP Address "{text}" parse error during conversion from string: '
                         f'ParseAddr("{text}"): unable to parse IP') from None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        raise ValueError(f"IPv4-mapped IPv6 address is not allowed: {text}")
    return addr


def _parse_cidr(text: str):
    addr_text, sep, length = text.partition("/")
    if not sep:
        raise ValueError(f'network address parse error during conversion from string: '
                         f'netip.ParsePrefix("{text}"): no \'/\'')
    addr = _parse_ip(addr_text)
    net = ipaddress.ip_network(f"{addr_text}/{length}", strict=False)
    return CELCIDR(net, addr)


def _ip(value):
    if isinstance(value, CELCIDR):               # cidr.ip(): the address as written
        return CELIP(value.addr)
    if not isinstance(value, str):
        raise _overload("ip")
    return CELIP(_parse_ip(str(value)))


def _cidr(value):
    if not isinstance(value, str):
        raise _overload("cidr")
    return _parse_cidr(str(value))


def _check(parse):
    def fn(text):
        try:
            parse(str(text))
        except ValueError:
            return celtypes.BoolType(False)
        return celtypes.BoolType(True)
    return fn


class IPNamespace:
    """The ``ip`` in ``ip.isCanonical(s)``: cel-python reads it as a member call on a
    variable named ``ip``, so the evaluator binds this marker to that name."""


def _is_canonical(namespace, text):
    if not isinstance(namespace, IPNamespace):
        raise _overload("isCanonical")
    addr = _parse_ip(str(text))
    return celtypes.BoolType(str(addr) == str(text))


def _a(value, name):
    if not isinstance(value, CELIP):
        raise _overload(name)
    return value.addr


def _contains_ip(c, other):
    if not isinstance(c, CELCIDR):
        raise _overload("containsIP")
    addr = other.addr if isinstance(other, CELIP) else _parse_ip(str(other))
    return celtypes.BoolType(addr.version == c.net.version and addr in c.net)


def _contains_cidr(c, other):
    if not isinstance(c, CELCIDR):
        raise _overload("containsCIDR")
    net = other.net if isinstance(other, CELCIDR) else _parse_cidr(str(other)).net
    return celtypes.BoolType(net.version == c.net.version and net.subnet_of(c.net))


def _masked(c):
    if not isinstance(c, CELCIDR):
        raise _overload("masked")
    return CELCIDR(c.net, c.net.network_address)


NETWORK = {
    "ip": _ip, "isIP": _check(_parse_ip), "cidr": _cidr, "isCIDR": _check(_parse_cidr),
    "isCanonical": _is_canonical,
    "family": lambda ip: celtypes.IntType(_a(ip, "family").version),
    "isUnspecified": lambda ip: celtypes.BoolType(_a(ip, "isUnspecified").is_unspecified),
    "isLoopback": lambda ip: celtypes.BoolType(_a(ip, "isLoopback").is_loopback),
    "isLinkLocalMulticast": lambda ip: celtypes.BoolType(
        _a(ip, "isLinkLocalMulticast").is_multicast
        and _a(ip, "isLinkLocalMulticast").is_link_local if _a(ip, "x").version == 6 else
        _a(ip, "x") in ipaddress.ip_network("224.0.0.0/24")),
    "isLinkLocalUnicast": lambda ip: celtypes.BoolType(
        _a(ip, "isLinkLocalUnicast").is_link_local and not _a(ip, "x").is_multicast),
    "isGlobalUnicast": lambda ip: celtypes.BoolType(_global_unicast(_a(ip, "isGlobalUnicast"))),
    "containsIP": _contains_ip, "containsCIDR": _contains_cidr, "masked": _masked,
    "prefixLength": lambda c: celtypes.IntType(c.net.prefixlen),
}


def _global_unicast(addr) -> bool:
    # Go's IP.IsGlobalUnicast: not unspecified, loopback, multicast, link-local or the
    # IPv4 limited broadcast address (private ranges count as global unicast)
    if addr.version == 4 and str(addr) == "255.255.255.255":
        return False
    return not (addr.is_unspecified or addr.is_loopback or addr.is_multicast
                or addr.is_link_local)


LIBRARY_TYPES = (CELQuantity, CELURL, CELIP, CELCIDR)
FUNCTIONS = {**QUANTITY, **URL, **NETWORK}
