"""System checks (``manage.py check``) on the registered kinds' declarations, with stable ids.

apiserver.E001  a kind's ``schema_name`` is not a known built-in definition
apiserver.E002  a kind declares a create-only subresource without a ``create`` (the others
                — status, scale, approval … — are writes the generic Store serves, with
                ``ctx.subresource`` telling the kind's hooks which one)
apiserver.E003  a ``subresources`` entry is not a ``Subresource`` declaration
"""
from __future__ import annotations

from django.core import checks

from apiserver.openapi import definitions
from apiserver.registry.strategy import Subresource
from apiserver.runtime.scheme import scheme

@checks.register("apiserver")
def check_scheme(app_configs=None, **kwargs):
    problems = []
    for s in scheme.all():
        where = f"{type(s).__module__}.{type(s).__name__}"
        if s.schema_name and definitions.get(s.schema_name) is None:
            problems.append(checks.Error(f"{where}: unknown schema_name {s.schema_name!r}",
                                         id="apiserver.E001"))
        for sub in s.subresources:
            if not isinstance(sub, Subresource):
                problems.append(checks.Error(f"{where}: subresource {sub!r} is not a "
                                             "Subresource declaration", id="apiserver.E003"))
                continue
            creates = type(sub).create is not Subresource.create
            if sub.verbs == ("create",) and not creates:
                problems.append(checks.Error(f"{where}: subresource {sub.name!r} has no handler",
                                             id="apiserver.E002"))
    return problems
