"""Field checks the networking.k8s.io kinds share, with upstream's messages.

* :func:`is_wildcard_dns1123_subdomain` — ``IsWildcardDNS1123Subdomain``
  (kubernetes/apimachinery:pkg/util/validation/validation.go): Ingress hosts such as
  ``*.example.com``.
* :func:`validate_host` — an Ingress rule or TLS host: a wildcard subdomain when it holds a
  ``*``, else a DNS-1123 subdomain.
* :func:`validate_domain_prefixed_path` — ``IsDomainPrefixedPath`` (an IngressClass's
  ``spec.controller``, e.g. ``example.com/ingress-controller``).
* :func:`parse_cidr` / :func:`validate_cidr` — ``ParseCIDRSloppy`` and ``IsValidCIDR``
  (a NetworkPolicy ``ipBlock``).

May import: apiserver.runtime.
"""
from __future__ import annotations

import ipaddress
import re

from apiserver.runtime import errors
from apiserver.runtime.validation import is_dns1123_subdomain, max_len_error, regex_error

_SUBDOMAIN = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_WILDCARD = "\\*\\." + _SUBDOMAIN
_WILDCARD_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                 "subdomain, which must consist of lower case alphanumeric characters, '-' or "
                 "'.' and end with an alphanumeric character")
_HTTP_PATH = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    """``*.`` followed by a DNS-1123 subdomain, at most 253 bytes."""
    errs = [max_len_error(253)] if len(value.encode()) > 253 else []
    if re.fullmatch(_WILDCARD, value) is None:
        errs.append(regex_error(_WILDCARD_MSG, _WILDCARD, "*.example.com"))
    return errs


def validate_host(host: str, path: str) -> list:
    """Upstream's host rule of ``validateIngressRules`` and ``validateIngressTLS``."""
    check = is_wildcard_dns1123_subdomain if "*" in host else is_dns1123_subdomain
    return [errors.invalid(path, host, m) for m in check(host)]


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def validate_domain_prefixed_path(value: str, path: str) -> list:
    """``IsDomainPrefixedPath``: ``<DNS subdomain>/<HTTP path characters>``."""
    if not value:
        return [errors.required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [errors.invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [errors.invalid(path, host, m) for m in is_dns1123_subdomain(host)]
    if re.fullmatch(_HTTP_PATH, rest) is None:
        errs.append(errors.invalid(path, rest, regex_error("Invalid path", _HTTP_PATH)))
    return errs


def parse_cidr(value) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """``netutils.ParseCIDRSloppy``: an address with a prefix length (host bits allowed)."""
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def validate_cidr(value, path: str) -> list:
    """``IsValidCIDR``."""
    return [] if parse_cidr(value) is not None else [errors.invalid(path, value, CIDR_MSG)]
