"""String formats a CRD schema may name, checked as kube-openapi's ``strfmt.Default`` does.

Which formats count: apiextensions-apiserver ``pkg/apiserver/validation/formats.go`` keeps a
fixed list (1.32: the 1.0 set) and blanks every other format before validation, so an unknown
format is ignored, not an error.  ``integer`` keeps only int32/int64 and ``number`` only
float/double, and neither is range-checked (kube-openapi's number validator is built without a
type, ``validate/schema.go: numberValidator``).  Names are normalised by dropping dashes
(``date-time`` → ``datetime``), kube-openapi ``strfmt/format.go``.

The checkers follow kube-openapi ``pkg/validation/strfmt`` (``default.go``, ``date.go``,
``time.go``, ``duration.go``, ``bson.go``) and the govalidator functions it calls.  Two
formats are accepted but not checked, as upstream: ``password`` (anything) and
``quantity`` (in the supported list, absent from the registry).

May import: the standard library.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import re
from email.utils import parseaddr
from urllib.parse import urlsplit

# apiextensions-apiserver validation/formats.go, supportedVersionedFormats at 1.0 (normalised)
SUPPORTED = frozenset(f.replace("-", "") for f in (
    "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid",
    "uuid3", "uuid4", "uuid5", "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor",
    "rgbcolor", "byte", "password", "date", "duration", "datetime", "quantity"))


def effective_format(schema_type: str, fmt: str) -> str:
    """The format left after upstream's ``StripUnsupportedFormatsPostProcess``."""
    if not fmt:
        return ""
    if schema_type in ("", "string"):
        return fmt if fmt.replace("-", "") in SUPPORTED else ""
    if schema_type == "integer":
        return fmt if fmt in ("int32", "int64") else ""
    if schema_type == "number":
        return fmt if fmt in ("float", "double") else ""
    return ""


_HOSTNAME = re.compile(
    r"^([a-zA-Z0-9\w]((-?[a-zA-Z0-9\w]{0,62})?)|([a-zA-Z0-9\w](([a-zA-Z0-9\-\w]{0,61}"
    r"[a-zA-Z0-9\w])?)(\.)){1,}([a-zA-Z]|[^\W\d_]){2,63})$")
_UUID = {
    "uuid": re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"),
    "uuid3": re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$"),
    "uuid4": re.compile(
        r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"),
    "uuid5": re.compile(
        r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"),
}
_DATETIME_TIME = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
_DURATION_UNIT = re.compile(r"((\d+)\s*([A-Za-zµ]+))")
_GO_DURATION = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)"
                          r"((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))*$")
_DURATION_UNITS = (("ns", "nano"), ("us", "µs", "micro"), ("ms", "milli"), ("s", "sec"),
                   ("m", "min"), ("h", "hr", "hour"), ("d", "day"), ("w", "wk", "week"))
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5,19}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2,9}[0-9A-Fa-f]{4}$")
_HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RGB = re.compile(r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d"
                  r"|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$")
_SSN = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_CREDITCARD = re.compile(r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6]"
                         r"[0-9]{2}|27[01][0-9]|2720)[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|"
                         r"3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})"
                         r"\d{11}|6[27][0-9]{14})$")


def _is_date(s: str) -> bool:
    # time.Parse("2006-01-02"): exactly four-digit year, two-digit month and day
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return False
    try:
        datetime.date(int(s[:4]), int(s[5:7]), int(s[8:]))
    except ValueError:
        return False
    return True


def _is_datetime(s: str) -> bool:
    # strfmt.IsDateTime: split on "t" (case-insensitively), a date, then hh:mm:ss[.f](z|±hh:mm)
    if len(s) < 4:
        return False
    parts = s.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    m = _DATETIME_TIME.match(parts[1])
    return bool(m) and m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"


def _is_duration(s: str) -> bool:
    # strfmt.ParseDuration: Go's time.ParseDuration, else "<n> <unit>" pairs (scala style)
    if s in ("0", "+0", "-0") or _GO_DURATION.match(s):
        return True
    for match in _DURATION_UNIT.finditer(s):
        unit = match.group(3).strip().lower()
        for variants in _DURATION_UNITS:
            for i, variant in enumerate(variants):
                if (i == len(variants) - 1 and unit.startswith(variant)) or variant == unit:
                    return True
    return False


def _is_ipv4(s: str) -> bool:
    # netutils.ParseIPSloppy (leading zeros allowed) and the text has a dot
    if "." not in s:
        return False
    if ":" in s:
        return _is_ipv6(s)
    parts = s.split(".")
    return len(parts) == 4 and all(p.isdigit() and p.isascii() and int(p) < 256 for p in parts)


def _is_ipv6(s: str) -> bool:
    # govalidator.IsIPv6: net.ParseIP succeeds and the text has a colon
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return ":" in s


def _is_cidr(s: str) -> bool:
    # netutils.ParseCIDRSloppy: address/prefix, leading zeros tolerated in IPv4
    addr, sep, bits = s.partition("/")
    if not sep or not bits.isdigit() or not bits.isascii():
        return False
    if _is_ipv4(addr) and ":" not in addr:
        return int(bits) <= 32
    return _is_ipv6(addr) and int(bits) <= 128


def _is_email(s: str) -> bool:
    # net/mail.ParseAddress: a bare or named address with a local part and a domain
    name, addr = parseaddr(s)
    return bool(addr) and "@" in addr and not addr.startswith("@") and not addr.endswith("@")


def _is_uri(s: str) -> bool:
    # govalidator.IsRequestURI: url.ParseRequestURI, an absolute URI or an absolute path
    if not s or " " in s:
        return False
    try:
        parts = urlsplit(s)
    except ValueError:
        return False
    return bool(parts.scheme) or s.startswith("/")


def _is_hostname(s: str) -> bool:
    if not _HOSTNAME.match(s) or len(s.encode()) > 255:
        return False
    return all(len(p.encode()) <= 63 for p in s.split("."))


def _is_base64(s: str) -> bool:
    # govalidator.IsBase64: standard alphabet, padded
    if not re.fullmatch(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|"
                        r"[A-Za-z0-9+/]{4})$", s):
        return False
    try:
        base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _isbn(s: str, length: int) -> bool:
    digits = re.sub(r"[\s-]", "", s)
    if length == 10:
        if not re.fullmatch(r"\d{9}[\dX]", digits):
            return False
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
        return total % 11 == 0
    if not re.fullmatch(r"\d{13}", digits):
        return False
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


def _is_creditcard(s: str) -> bool:
    digits = re.sub(r"[^0-9]", "", s)
    if not _CREDITCARD.match(digits):
        return False
    total, double = 0, False
    for c in reversed(digits):            # Luhn
        d = int(c) * (2 if double else 1)
        total += d - 9 if d > 9 else d
        double = not double
    return total % 10 == 0


CHECKS = {
    "bsonobjectid": lambda s: bool(re.fullmatch(r"[0-9a-fA-F]{24}", s)),
    "uri": _is_uri,
    "email": _is_email,
    "hostname": _is_hostname,
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
    "cidr": _is_cidr,
    "mac": lambda s: bool(_MAC.match(s)),
    **{name: (lambda rx: lambda s: bool(rx.match(s)))(rx) for name, rx in _UUID.items()},
    "isbn": lambda s: _isbn(s, 10) or _isbn(s, 13),
    "isbn10": lambda s: _isbn(s, 10),
    "isbn13": lambda s: _isbn(s, 13),
    "creditcard": _is_creditcard,
    "ssn": lambda s: bool(_SSN.match(s)),
    "hexcolor": lambda s: bool(_HEXCOLOR.match(s)),
    "rgbcolor": lambda s: bool(_RGB.match(s)),
    "byte": _is_base64,
    "password": lambda s: True,
    "date": _is_date,
    "datetime": _is_datetime,
    "duration": _is_duration,
}


def known(fmt: str) -> bool:
    """Whether kube-openapi's registry has the format (``ContainsName``)."""
    return fmt.replace("-", "") in CHECKS


def check(fmt: str, value: str) -> bool:
    """Whether ``value`` is valid for the (known) format."""
    return CHECKS[fmt.replace("-", "")](value)
