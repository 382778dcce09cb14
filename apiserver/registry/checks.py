"""System checks (``manage.py check``) on the Scheme's declarations, with stable ids.

apiserver.E001  a kind's ``schema_name`` is not a known built-in definition
apiserver.E002  a kind declares a subresource the server cannot serve
apiserver.E003  ``scale`` subresource without a ScaleSpec
"""
from __future__ import annotations

from django.core import checks

from apiserver.openapi import definitions
from apiserver.runtime.scheme import scheme

_KNOWN_SUBRESOURCES = {"status", "scale"}


@checks.register("apiserver")
def check_scheme(app_configs=None, **kwargs):
    problems = []
    for s in scheme.all():
        where = f"{type(s).__module__}.{type(s).__name__}"
        if s.schema_name and definitions.get(s.schema_name) is None:
            problems.append(checks.Error(f"{where}: unknown schema_name {s.schema_name!r}",
                                         id="apiserver.E001"))
        for sub in s.subresources:
            custom = type(s).create_subresource is not type(s).__mro__[-2].create_subresource
            if sub not in _KNOWN_SUBRESOURCES and not custom:
                problems.append(checks.Error(f"{where}: subresource {sub!r} has no handler",
                                             id="apiserver.E002"))
        if "scale" in s.subresources and s.scale is None:
            problems.append(checks.Error(f"{where}: 'scale' needs a ScaleSpec", id="apiserver.E003"))
    return problems
