"""Server-side apply and ``metadata.managedFields`` tracking, as pure Python.

Mirrors k8s.io/apimachinery ``pkg/util/managedfields`` and sigs.k8s.io/structured-merge-diff:

* :func:`fields_of` - the field paths an object sets (``TypedValue.ToFieldSet``);
* :func:`to_fields_v1` / :func:`from_fields_v1` - the ``fieldsV1`` wire format;
* :func:`update_managed_fields` - ownership bookkeeping for create/update/patch ("Update");
* :func:`apply` - server-side apply with conflict detection ("Apply").

Paths are tuples of ``("f", name)``, ``("k", ((key, value), ...))``, ``("v", value)`` and
``("i", index)`` elements (see :mod:`.fieldpath`).  Schemas are nodes from
:mod:`apiserver.openapi.definitions` (or CRD structural schemas); ``None`` means untyped.

No Django imports: the endpoint layer calls these with plain dicts.
"""
from .serverside import apply, merge, validate_field_manager
from .fieldpath import FieldPathError, from_fields_v1, path_string, to_fields_v1
from .managed import decode_managed_fields, encode_managed_fields, owned_by, \
    update_managed_fields
from .walk import compare, fields_of

__all__ = [
    "apply", "merge", "validate_field_manager", "fields_of", "compare", "to_fields_v1",
    "from_fields_v1", "path_string", "FieldPathError", "update_managed_fields",
    "decode_managed_fields", "encode_managed_fields", "owned_by",
]
