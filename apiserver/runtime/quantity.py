"""Kubernetes ``resource.Quantity``: parse, compare and print canonically.

Behaviour follows k8s.io/apimachinery ``pkg/api/resource`` (v0.32): the same hand-written
scanner (so oddities such as ``"1.G"`` or ``"."`` parse exactly as upstream), the same suffix
table, rounding of sub-nano precision *away from zero*, the BinarySI cap at 2^63-1, and the
same canonical form (``"1000m"`` → ``"1"``, ``"1024Mi"`` → ``"1Gi"``, ``"0.5"`` → ``"500m"``).
Like upstream, a string that is already canonical on the fast path is echoed back verbatim
(``"01"`` stays ``"01"``), because upstream caches the input string in that case.

Known deviation: upstream prints a DecimalSI value above 999E with no suffix (a bug); we
print it with the ``E`` suffix and a larger mantissa instead.

May import: the standard library only.
"""
from __future__ import annotations

import functools
from fractions import Fraction

SPLIT_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = f"quantities must match the regular expression '{SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT = "DecimalSI", "BinarySI", "DecimalExponent"

_DEC = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_BY_EXP = {e: s for s, e in _DEC.items()}
_BIN = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIN_BY_EXP = {e: s for s, e in _BIN.items()}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_DIGITS = set("0123456789")
_NANO = 10 ** 9
_MAX_INT64 = 2 ** 63 - 1


class QuantityError(ValueError):
    """A string that is not a Quantity; ``str()`` is the upstream message."""


def _scan(s: str):
    """Upstream ``parseQuantityString``: (positive, numeric text, num, denom, suffix)."""
    end, pos, positive = len(s), 0, True
    if s[0] in "+-":
        positive = s[0] == "+"
        pos = 1
    while pos < end and s[pos] == "0":  # leading zeros are dropped from the numerator
        pos += 1
    if pos >= end:
        return positive, s, "0", "", ""
    start = pos
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    num = s[start:pos] or "0"
    denom = ""
    if pos < end and s[pos] == ".":
        pos += 1
        start = pos
        while pos < end and s[pos] in _DIGITS:
            pos += 1
        denom = s[start:pos]  # upstream tolerates an empty fraction ("1.G")
    value = s[:pos]
    suffix_start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT)
    return positive, value, num, denom, s[suffix_start:]


def _interpret(suffix: str):
    """(base, exponent, format) for a suffix, or None; mirrors upstream ``suffixHandler``."""
    if suffix in _DEC:
        return 10, _DEC[suffix], DECIMAL_SI
    if suffix in _BIN:
        return 2, _BIN[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if body and all(c in _DIGITS for c in body):
            return 10, int(digits), DECIMAL_EXPONENT
    return None


@functools.total_ordering
class Quantity:
    """An exact rational amount plus the format it prints in.

    ``value`` is a ``Fraction`` already rounded to nano precision; ``format`` is one of
    ``DecimalSI``, ``BinarySI``, ``DecimalExponent``.  ``str()`` gives the wire form.
    """

    __slots__ = ("value", "format", "_text")

    def __init__(self, value, fmt: str = DECIMAL_SI, text: str | None = None):
        self.value = Fraction(value)
        self.format = fmt
        self._text = text

    def __eq__(self, other):
        if isinstance(other, Quantity):
            return self.value == other.value
        if isinstance(other, (int, Fraction)):
            return self.value == other
        return NotImplemented

    def __lt__(self, other):
        if isinstance(other, Quantity):
            return self.value < other.value
        if isinstance(other, (int, Fraction)):
            return self.value < other
        return NotImplemented

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return f"Quantity({str(self)!r})"

    def is_zero(self) -> bool:
        return self.value == 0

    def __str__(self) -> str:
        if self._text is None:
            self._text = _canonical(self.value, self.format)
        return self._text


def _canonical(value: Fraction, fmt: str) -> str:
    """Upstream ``CanonicalizeBytes``: pick mantissa and suffix for ``value``."""
    if value == 0:
        return "0"
    if fmt == BINARY_SI and (-1024 < value < 1024 or value.denominator != 1):
        fmt = DECIMAL_SI  # small or fractional binary amounts print in decimal to avoid rounding
    if fmt == BINARY_SI:
        amount, exp = int(value), 0
        while abs(amount) >= 1024 and amount % 1024 == 0 and exp < 60:
            amount //= 1024
            exp += 10
        return f"{amount}{_BIN_BY_EXP.get(exp, '')}"
    # value is a multiple of 1e-9 (rounded at parse), so this is exact
    amount, exp = int(value * _NANO), -9
    while amount % 10 == 0:
        amount //= 10
        exp += 1
    while exp % 3:  # exponent must be a multiple of three
        amount *= 10
        exp -= 1
    if fmt == DECIMAL_EXPONENT:
        return f"{amount}" if exp == 0 else f"{amount}e{exp}"
    while exp > 18:  # beyond "E": keep the suffix, grow the mantissa (see module docstring)
        amount *= 1000
        exp -= 3
    return f"{amount}{_DEC_BY_EXP[exp]}"


def parse_quantity(text) -> Quantity:
    """Parse a Quantity from its string (or JSON number) form; raise ``QuantityError``.

    Results are memoised for strings (a Quantity is never mutated after parsing): the same
    few requests and limits ("100m", "128Mi") recur in every Pod."""
    if isinstance(text, str) and len(text) <= 64:
        return _parse_cached(text)
    return _parse(text)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Quantity:
    return _parse(text)


def _parse(text) -> Quantity:
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise QuantityError(ERR_FORMAT)
    s = text if isinstance(text, str) else repr(text)
    if not s:
        raise QuantityError(ERR_FORMAT)
    if s == "0":
        return Quantity(0, DECIMAL_SI, "0")
    positive, value, num, denom, suffix = _scan(s)
    interpreted = _interpret(suffix)
    if interpreted is None:
        raise QuantityError(ERR_SUFFIX)
    base, exponent, fmt = interpreted
    digits = value.lstrip("+-")
    whole, _, frac = digits.partition(".")
    amount = Fraction(int(whole + frac or "0"), 10 ** len(frac))
    amount *= Fraction(10) ** exponent if base == 10 else 2 ** exponent
    if amount * _NANO != int(amount * _NANO):  # round sub-nano precision up, away from zero
        scaled = amount * _NANO
        amount = Fraction(-(-scaled.numerator // scaled.denominator), _NANO)
    if fmt == BINARY_SI and amount > _MAX_INT64:
        amount = Fraction(_MAX_INT64)
    if not positive:
        amount = -amount
    return Quantity(amount, fmt, s if _echoes_input(fmt, num, denom, exponent) else None)


def _echoes_input(fmt: str, num: str, denom: str, exponent: int) -> bool:
    """Whether upstream's int64 fast path keeps the input string as the printed form."""
    if fmt == BINARY_SI:
        if exponent < 0 or denom:
            return False
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        value = int(num + denom)
        fits = precision >= 0 and value << exponent <= _MAX_INT64
        return fits and exponent % 10 == 0 and value & 7 != 0
    scale = exponent - len(denom)
    shifted = num + denom
    if 18 - len(num) - len(denom) < 0 or scale < -9 or int(shifted) > _MAX_INT64:
        return False
    return scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def canonical(text) -> str:
    """The string a round trip through the API server gives back for ``text``."""
    return str(parse_quantity(text))
