"""Resource quantities (``"100m"``, ``"1Gi"``, ``"2e3"``) as integers, the way the scheduler
compares them: cpu in millicores, everything else in whole units (bytes, pods, devices),
as upstream's ``resource.Quantity.MilliValue()`` / ``Value()`` (k8s.io/apimachinery:
pkg/api/resource/quantity.go).  A value that does not parse counts as 0 (the server has
validated every stored quantity already)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
import math

_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
            "P": Decimal("1e15"), "E": Decimal("1e18")}


def parse(value) -> Decimal:
    """The quantity as an exact decimal number of base units."""
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    s = str(value or "").strip()
    if not s:
        return Decimal(0)
    try:
        if s[-2:] in _BINARY:
            return Decimal(s[:-2]) * _BINARY[s[-2:]]
        if s[-1:] in _DECIMAL and not s[-1:].isdigit():
            # "1E3" is an exponent, "1E" is exa: Decimal accepts the former only
            try:
                return Decimal(s)
            except InvalidOperation:
                return Decimal(s[:-1]) * _DECIMAL[s[-1:]]
        return Decimal(s)
    except (InvalidOperation, ValueError):
        return Decimal(0)


def to_int(resource: str, value) -> int:
    """cpu → millicores (rounded up, as MilliValue), others → units (rounded up, as Value)."""
    d = parse(value)
    if resource == "cpu":
        d = d * 1000
    return int(math.ceil(d))
