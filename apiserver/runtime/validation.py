"""Upstream-exact field validators for names, labels, annotations and ObjectMeta.

Rules and message texts follow Kubernetes 1.32: k8s.io/apimachinery ``pkg/util/validation``
(``Is*`` checks returning message strings), ``pkg/api/validation`` (ObjectMeta, annotations,
owner references, finalizers), ``pkg/apis/meta/v1/validation`` (labels, label selectors) and
the extra finalizer-name rule of k8s.io/kubernetes ``pkg/apis/core/validation`` for built-in
kinds.  ``is_*`` functions return ``list[str]``; ``validate_*`` return ``list[FieldError]``.
Maps are walked in sorted key order so the error order is deterministic (Go's is random).

May import: the standard library and ``apiserver.runtime.errors`` / ``.quantity``.
"""
from __future__ import annotations

import datetime
import json
import re

from .errors import FieldError, forbidden, invalid, required
from .quantity import QuantityError, parse_quantity

# ---------------------------------------------------------------- message builders

def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Upstream ``RegexError``: message, examples and the regex used."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


EMPTY_ERROR = "must be non-empty"
IS_NEGATIVE_ERROR = "must be greater than or equal to 0"
FIELD_IMMUTABLE = "field is immutable"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


# ---------------------------------------------------------------- string checks

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + "(\\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QNAME + ")?"
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start "
              "and end with an alphanumeric character")
_RX = {k: re.compile(v) for k, v in {"l": _DNS1123_LABEL, "s": _DNS1123_SUBDOMAIN,
                                    "1035": _DNS1035_LABEL, "q": _QNAME,
                                    "v": _LABEL_VALUE}.items()}


def _blen(value: str) -> int:
    # Go's len() counts bytes, not characters
    return len(value.encode("utf-8", "surrogatepass"))


def _match(key: str, value: str) -> bool:
    # fullmatch: Go's "^...$" does not accept a trailing newline the way Python's "$" does
    return _RX[key].fullmatch(value) is not None


def is_dns1123_label(value: str) -> list[str]:
    """DNS-1123 label: at most 63, ``[a-z0-9]([-a-z0-9]*[a-z0-9])?``."""
    errs = [max_len_error(63)] if _blen(value) > 63 else []
    if not _match("l", value):
        if _match("s", value):  # a valid subdomain gets the shorter, more helpful message
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                "or '-', and must start and end with an alphanumeric character",
                _DNS1123_LABEL, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """DNS-1123 subdomain: at most 253, dot-separated DNS-1123 labels."""
    errs = [max_len_error(253)] if _blen(value) > 253 else []
    if not _match("s", value):
        errs.append(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character",
            _DNS1123_SUBDOMAIN, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """DNS-1035 label (Service names): at most 63, must start with a letter."""
    errs = [max_len_error(63)] if _blen(value) > 63 else []
    if not _match("1035", value):
        errs.append(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
            "with an alphabetic character, and end with an alphanumeric character",
            _DNS1035_LABEL, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """Label keys, annotation keys, finalizers: ``[prefix/]name`` (prefix a DNS subdomain)."""
    parts = value.split("/")
    errs: list[str] = []
    if len(parts) > 2:
        return [
            "a qualified name " + regex_error(_QNAME_MSG, _QNAME, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part " + EMPTY_ERROR)
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    if not name:
        errs.append("name part " + EMPTY_ERROR)
    elif _blen(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _match("q", name):
        errs.append("name part " + regex_error(_QNAME_MSG, _QNAME, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """Label values: empty, or at most 63 qualified-name characters."""
    errs = [max_len_error(63)] if _blen(value) > 63 else []
    if not _match("v", value):
        errs.append(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', "
            "'_' or '.', and must start and end with an alphanumeric character",
            _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errs


def is_path_segment_name(value: str, prefix: bool = False) -> list[str]:
    """Names that must be usable as one URL path segment (every kind's minimum rule)."""
    if not prefix and value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def is_valid_port_name(value: str) -> list[str]:
    """IANA_SVC_NAME (container/service port names)."""
    errs = [max_len_error(15)] if _blen(value) > 15 else []
    if not re.fullmatch("[-a-z0-9]+", value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _mask_trailing_dash(name: str) -> str:
    # upstream: a generateName prefix may end in '-'; replace the last two chars with "a"
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


_NAME_RULES = {"subdomain": is_dns1123_subdomain, "label": is_dns1123_label,
               "dns1035": is_dns1035_label}


def name_messages(name: str, rule: str, prefix: bool = False) -> list[str]:
    """Upstream ``ValidateNameFunc``: rule is subdomain | label | dns1035 | path."""
    if rule == "path":
        return is_path_segment_name(name, prefix)
    if rule not in _NAME_RULES:
        raise ValueError(f"unknown name rule {rule!r}")
    return _NAME_RULES[rule](_mask_trailing_dash(name) if prefix else name)


def validate_name(name: str, rule: str, path: str = "metadata.name", *,
                  prefix: bool = False) -> list[FieldError]:
    """Field errors for ``name`` under ``rule``; ``prefix`` validates a generateName."""
    return [invalid(path, name, m) for m in name_messages(name, rule, prefix)]


# ---------------------------------------------------------------- small field helpers

def _field(check):
    def validate(value: str, path: str) -> list[FieldError]:
        return [invalid(path, value, m) for m in check(value)]
    validate.__doc__ = f"Field errors from ``{check.__name__}`` at ``path``."
    return validate


validate_dns1123_label_field = _field(is_dns1123_label)
validate_dns1123_subdomain_field = _field(is_dns1123_subdomain)
validate_dns1035_label_field = _field(is_dns1035_label)
validate_qualified_name_field = _field(is_qualified_name)
validate_port_name = _field(is_valid_port_name)


def validate_port_number(value: int, path: str) -> list[FieldError]:
    """Ports must be 1-65535 (upstream ``IsValidPortNum``)."""
    return validate_inclusive_range(value, 1, 65535, path)


def validate_inclusive_range(value: int, lo: int, hi: int, path: str) -> list[FieldError]:
    return [] if lo <= value <= hi else [invalid(path, value, inclusive_range_error(lo, hi))]


def validate_nonnegative(value: int, path: str) -> list[FieldError]:
    return [invalid(path, value, IS_NEGATIVE_ERROR)] if value < 0 else []


def validate_quantity(value, path: str, *, nonnegative: bool = False) -> list[FieldError]:
    """A resource quantity; upstream rejects malformed ones while decoding (callers may map
    such an error to 400 instead of 422)."""
    try:
        q = parse_quantity(value)
    except QuantityError as exc:
        return [invalid(path, value, str(exc))]
    if nonnegative and q.value < 0:
        return [invalid(path, str(q), IS_NEGATIVE_ERROR)]
    return []


class GoText:
    """A value whose error rendering is Go ``%#v``/``String()`` text, e.g. ``[]string{"a"}``."""

    def __init__(self, text: str):
        self.text = text

    def __str__(self):
        return self.text

    def __eq__(self, other):
        return isinstance(other, GoText) and other.text == self.text


def go_strings(values) -> GoText:
    """Go `%#v` of a []string, as upstream prints list values in messages."""
    return GoText("[]string{" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "}")


# ---------------------------------------------------------------- labels, annotations

def validate_labels(labels: dict | None, path: str = "metadata.labels") -> list[FieldError]:
    """Keys are qualified names, values label values; errors are reported at ``path``."""
    errs: list[FieldError] = []
    for key in sorted(labels or {}):
        value = labels[key]
        errs += [invalid(path, key, m) for m in is_qualified_name(key)]
        errs += [invalid(path, value, m) for m in is_valid_label_value(str(value))]
    return errs


def validate_annotations(annotations: dict | None,
                         path: str = "metadata.annotations") -> list[FieldError]:
    """Keys are qualified names (checked lower-cased); keys+values total ≤ 256 KiB."""
    annotations = annotations or {}
    errs = [invalid(path, k, m) for k in sorted(annotations) for m in is_qualified_name(k.lower())]
    total = sum(_blen(k) + _blen(str(v)) for k, v in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        # 1.32's field.TooLong wording (errors.too_long carries the newer wording)
        errs.append(FieldError("FieldValueTooLong", path, None,
                               f"may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes",
                               has_value=False))
    return errs


# ---------------------------------------------------------------- finalizers, owners

STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def validate_finalizers(finalizers: list | None, path: str = "metadata.finalizers", *,
                        builtin: bool = True) -> list[FieldError]:
    """Qualified names; not both ``orphan`` and ``foregroundDeletion``.  For built-in kinds
    (``builtin``) a name without '/' must also be one of the standard finalizers."""
    finalizers = list(finalizers or [])
    errs = [invalid(path, f, m) for f in finalizers for m in is_qualified_name(f)]
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(path, go_strings(finalizers),
                            "finalizer orphan and foregroundDeletion cannot be both set"))
    if builtin:
        errs += _kube_finalizer_names(finalizers, path)
    return errs


def _kube_finalizer_names(finalizers: list, path: str) -> list[FieldError]:
    return [invalid(f"{path}[{i}]", f,
                    "name is neither a standard finalizer name nor is it fully qualified")
            for i, f in enumerate(finalizers) if "/" not in f and f not in STANDARD_FINALIZERS]


def finalizer_warnings(new: list | None, old: list | None = None,
                       path: str = "metadata.finalizers") -> list[str]:
    """Warning headers custom resources get for newly added, non-domain-qualified finalizers
    (upstream apiextensions: CRs warn where built-in kinds fail validation)."""
    added = sorted(set(new or []) - set(old or []))
    out = []
    for f in added:
        out += [f'{path}: "{f}": {m}' for m in is_qualified_name(f)]
        if "/" not in f and f not in STANDARD_FINALIZERS:
            hint = " including a path (/)" if "." in f else ""
            out.append(f'{path}: "{f}": prefer a domain-qualified finalizer name{hint} '
                       "to avoid accidental conflicts with other finalizer writers")
    return out


def _go_owner(ref: dict) -> GoText:
    # Go field names; the Controller/BlockOwnerDeletion pointers (addresses) are left out
    fields = ", ".join(f'{go}:{json.dumps(str(ref.get(k) or ""))}' for go, k in
                       (("APIVersion", "apiVersion"), ("Kind", "kind"), ("Name", "name"),
                        ("UID", "uid")))
    return GoText("v1.OwnerReference{" + fields + "}")


def validate_owner_references(refs: list | None, path: str = "metadata.ownerReferences",
                              namespaced: bool | None = None) -> list[FieldError]:
    """apiVersion (with a version), kind, name, uid non-empty; at most one controller; no
    ``v1 Event`` owners.  Errors are at ``path`` itself, not per index, as upstream.
    ``namespaced`` is accepted for callers but unused: upstream leaves cross-namespace owner
    references to the garbage collector rather than validation."""
    errs: list[FieldError] = []
    first_controller = ""
    for ref in refs or []:
        ref = ref if isinstance(ref, dict) else {}
        api_version, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
        group, version = _parse_group_version(api_version)
        if not version:
            errs.append(invalid(path + ".apiVersion", api_version, "version must not be empty"))
        if not kind:
            errs.append(invalid(path + ".kind", kind, "kind must not be empty"))
        for key in ("name", "uid"):
            if not ref.get(key):
                errs.append(invalid(f"{path}.{key}", str(ref.get(key) or ""),
                                    f"{key} must not be empty"))
        if (group, version, kind) == ("", "v1", "Event"):
            errs.append(invalid(path, _go_owner(ref),
                                "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{kind}/{ref.get('name') or ''}"
            if first_controller:
                errs.append(invalid(
                    path, GoText("[]v1.OwnerReference{" + ", ".join(
                        str(_go_owner(r if isinstance(r, dict) else {})) for r in refs) + "}"),
                    'Only one reference can have Controller set to true. Found "true" in '
                    f"references for {first_controller} and {current}"))
            else:
                first_controller = current
    return errs


def _parse_group_version(api_version: str) -> tuple[str, str]:
    # upstream schema.ParseGroupVersion; more than one '/' is an error → empty version
    if api_version in ("", "/"):
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    return (parts[0], parts[1]) if len(parts) == 2 else ("", "")


# ---------------------------------------------------------------- ObjectMeta

def validate_object_meta(meta: dict, namespaced: bool, name_rule: str, path: str = "metadata",
                         *, builtin: bool = True) -> list[FieldError]:
    """Upstream ``ValidateObjectMetaAccessor`` (+ the core finalizer rule when ``builtin``).

    A missing name with a ``generateName`` is accepted: upstream generates the name before
    validating, so callers that validate first must not be told the name is required.
    """
    errs: list[FieldError] = []
    name, gen = meta.get("name") or "", meta.get("generateName") or ""
    if gen:
        errs += validate_name(gen, name_rule, path + ".generateName", prefix=True)
    if name:
        errs += validate_name(name, name_rule, path + ".name")
    elif not gen:
        errs.append(required(path + ".name", "name or generateName is required"))
    namespace = meta.get("namespace") or ""
    if namespaced and not namespace:
        errs.append(required(path + ".namespace"))
    elif namespaced:
        errs += validate_name(namespace, "label", path + ".namespace")
    elif namespace:
        errs.append(forbidden(path + ".namespace", "not allowed on this type"))
    generation = meta.get("generation")
    if isinstance(generation, int):
        errs += validate_nonnegative(generation, path + ".generation")
    errs += validate_labels(meta.get("labels"), path + ".labels")
    errs += validate_annotations(meta.get("annotations"), path + ".annotations")
    errs += validate_owner_references(meta.get("ownerReferences"), path + ".ownerReferences")
    errs += validate_finalizers(meta.get("finalizers"), path + ".finalizers", builtin=builtin)
    return errs


def _go_time(value):
    """RFC 3339 text → Go ``time.Time.String()`` text, as upstream prints immutable times."""
    if not value:
        return None
    try:
        t = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return value
    return GoText(t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000 UTC"))


def validate_immutable(new, old, path: str, shown=None) -> list[FieldError]:
    """``field is immutable`` when ``new != old`` (``shown`` overrides the printed value)."""
    return [] if new == old else [invalid(path, new if shown is None else shown, FIELD_IMMUTABLE)]


def validate_object_meta_update(new_meta: dict, old_meta: dict, path: str = "metadata", *,
                                builtin: bool = True,
                                require_resource_version: bool = False) -> list[FieldError]:
    """Upstream ``ValidateObjectMetaAccessorUpdate`` (+ core finalizer rule when ``builtin``).

    Upstream's registry copies server-owned fields (uid, creationTimestamp, a set
    deletionTimestamp) from the old object *before* this runs; callers should do the same,
    and set ``require_resource_version`` once an unconditional update has been resolved.
    """
    errs: list[FieldError] = []
    if old_meta.get("deletionTimestamp"):
        extra = sorted(set(new_meta.get("finalizers") or []) - set(old_meta.get("finalizers") or []))
        if extra:
            errs.append(forbidden(path + ".finalizers",
                                  "no new finalizers can be added if the object is being "
                                  f"deleted, found new finalizers {go_strings(extra)}"))
    if require_resource_version and not new_meta.get("resourceVersion"):
        errs.append(invalid(path + ".resourceVersion", "", "must be specified for an update"))
    new_gen, old_gen = new_meta.get("generation") or 0, old_meta.get("generation") or 0
    if isinstance(new_gen, int) and isinstance(old_gen, int) and new_gen < old_gen:
        errs.append(invalid(path + ".generation", new_gen, "must not be decremented"))
    for key in ("name", "namespace", "uid"):
        errs += validate_immutable(new_meta.get(key) or "", old_meta.get(key) or "",
                                   f"{path}.{key}")
    for key in ("creationTimestamp", "deletionTimestamp"):
        new_t, old_t = _go_time(new_meta.get(key)), _go_time(old_meta.get(key))
        errs += validate_immutable(str(new_t) if new_t else None, str(old_t) if old_t else None,
                                   f"{path}.{key}", shown=new_t)
    errs += validate_immutable(new_meta.get("deletionGracePeriodSeconds"),
                               old_meta.get("deletionGracePeriodSeconds"),
                               path + ".deletionGracePeriodSeconds")
    errs += validate_labels(new_meta.get("labels"), path + ".labels")
    errs += validate_annotations(new_meta.get("annotations"), path + ".annotations")
    errs += validate_owner_references(new_meta.get("ownerReferences"), path + ".ownerReferences")
    if builtin:
        errs += _kube_finalizer_names(list(new_meta.get("finalizers") or []), path + ".finalizers")
    return errs


_CONFIG_MAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def is_config_map_key(value: str) -> list[str]:
    """Upstream ``IsConfigMapKey``: keys of ConfigMap/Secret data."""
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _CONFIG_MAP_KEY.fullmatch(value or ""):
        errs.append(regex_error("a valid config key must consist of alphanumeric characters, "
                                "'-', '_' or '.'", "[-._a-zA-Z0-9]+", "key.name", "KEY_NAME",
                                "key-name"))
    if value in (".", ".."):
        errs.append(f"must not be '{value}'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs
