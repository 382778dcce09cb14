#!/usr/bin/env python3
"""Generate ``apiserver/runtime/protobuf/table.json`` (loaded by ``table.py``) from upstream Kubernetes sources.

The table records facts of the published protobuf wire format of the built-in API types:
for every message, field number → JSON name, value kind, flags and message type.  Three
kinds of upstream file are read, all from package directories given on the command line
(no network is used):

* ``generated.proto`` – field numbers, labels (``optional``/``repeated``/``map<>``) and types;
* the Go sources (``types.go`` …) – the ``json:"…"`` tag of each field, matched to the
  proto field by the number in its ``protobuf:"…"`` tag: the JSON name, ``omitempty``,
  ``,inline`` (fields flattened into the parent object) and whether the Go field is a
  pointer (a pointer that is set is emitted even when it holds the zero value);
* ``register.go`` – the API group name and the kinds registered in the group-version.

Usage (the 1.32 sources live in the ``kubernetes/api`` and ``kubernetes/apimachinery``
repositories; export a tag with ``git archive``)::

    git --git-dir API.git archive v0.32.5 | tar -x -C /tmp/k8s-api
    git --git-dir APIMACHINERY.git archive v0.32.5 | tar -x -C /tmp/k8s-apimachinery
    python tools/gen_protobuf_table.py --output apiserver/runtime/protobuf/table.json \\
        /tmp/k8s-apimachinery/pkg/apis/meta/v1 /tmp/k8s-apimachinery/pkg/runtime \\
        /tmp/k8s-apimachinery/pkg/api/resource /tmp/k8s-apimachinery/pkg/util/intstr \\
        /tmp/k8s-api/core/v1 /tmp/k8s-api/apps/v1 …

``tools/gen_protobuf_table.sh`` runs exactly that for the group-versions served.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float"}
# Flag bits, mirrored in apiserver/runtime/protobuf/table.py.
REPEATED, MAP, OMITEMPTY, POINTER, INLINE = 1, 2, 4, 8, 16

_COMMENT_BLOCK = re.compile(r"/\*.*?\*/", re.S)
_FIELD = re.compile(r"^(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;$")
_MAP_FIELD = re.compile(r"^map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;$")


def parse_proto(text: str) -> tuple[str, dict]:
    """Return ``(package, {message: {"nullable": bool, "fields": [...]}})``.

    Each field is ``(number, name, label, type, is_map)``; ``label`` is ``repeated`` for maps.
    Only the subset of proto2 the Kubernetes generator emits is understood (top-level
    messages, no nested declarations, no oneofs); anything else aborts the run.
    """
    text = _COMMENT_BLOCK.sub("", text)
    package, messages, current, pending_comment = "", {}, None, []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("//"):
            pending_comment.append(line)
            continue
        if not line:
            if current is None:
                pending_comment = []
            continue
        if current is None:
            if line.startswith("package "):
                package = line[len("package "):].rstrip(";").strip()
            elif line.startswith("message "):
                name = line.split()[1]
                current = {"nullable": any("+protobuf.nullable=true" in c for c in pending_comment),
                           "fields": []}
                messages[name] = current
                if not line.endswith("{"):
                    raise SystemExit(f"unexpected message line: {raw!r}")
            elif not line.startswith(("syntax ", "import ", "option ")):
                raise SystemExit(f"unexpected top-level proto line: {raw!r}")
            pending_comment = []
            continue
        if line == "}":
            current, pending_comment = None, []
            continue
        m = _FIELD.match(line)
        if m:
            label, ftype, fname, num = m.groups()
            current["fields"].append((int(num), fname, label, ftype, False))
            continue
        m = _MAP_FIELD.match(line)
        if m:
            ktype, vtype, fname, num = m.groups()
            if ktype != "string":
                raise SystemExit(f"unsupported map key type {ktype!r}")
            current["fields"].append((int(num), fname, "repeated", vtype, True))
            continue
        raise SystemExit(f"unexpected line inside a message: {raw!r}")
    return package, messages


_STRUCT = re.compile(r"^type\s+(\w+)\s+struct\s*\{")
_GO_FIELD = re.compile(r"^\s*(?:(\w+)\s+)?([\w.*\[\]]+)\s+`([^`]*)`")
_TAG = re.compile(r'(\w+):"([^"]*)"')


def parse_go(texts: list[str]) -> dict:
    """Return ``{struct: {proto_number: {"json", "omitempty", "inline", "pointer"}}}``."""
    structs: dict[str, dict] = {}
    for text in texts:
        current = None
        for line in text.splitlines():
            m = _STRUCT.match(line)
            if m:
                current = structs.setdefault(m.group(1), {})
                continue
            if current is None:
                continue
            if line.startswith("}"):
                current = None
                continue
            if line.lstrip().startswith("//"):
                continue
            m = _GO_FIELD.match(line)
            if not m:
                continue
            _, gotype, tags = m.groups()
            tags = dict(_TAG.findall(tags))
            if "protobuf" not in tags:
                continue
            parts = tags["protobuf"].split(",")
            if len(parts) < 2 or not parts[1].isdigit():
                continue
            json_tag = tags.get("json", "").split(",")
            current[int(parts[1])] = {
                "json": json_tag[0],
                "omitempty": "omitempty" in json_tag[1:],
                "inline": "inline" in json_tag[1:],
                "pointer": gotype.startswith("*"),
            }
    return structs


_GROUP = re.compile(r'^const\s+GroupName\s*=\s*"([^"]*)"', re.M)
_KIND = re.compile(r"&(\w+)\{\}")


def parse_register(text: str) -> tuple[str, list[str], list[str]]:
    """Return ``(group, kinds, kinds_in_every_group_version)`` from a ``register.go``."""
    m = _GROUP.search(text)
    if not m:
        raise SystemExit("register.go without GroupName")
    kinds = [k for k in _KIND.findall(text) if k[0].isupper()]
    every: list[str] = []
    for start in ("var optionsTypes", "func AddToGroupVersion"):
        i = text.find(start)
        if i >= 0:
            block = text[i:text.find("\n}", i)]
            every += [k for k in _KIND.findall(block) if k not in every]
    return m.group(1), kinds, every


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def load_package(directory: str) -> dict:
    """Parse one Go/proto package directory."""
    package, messages = parse_proto(_read(os.path.join(directory, "generated.proto")))
    go_files = sorted(f for f in os.listdir(directory)
                      if f.endswith(".go") and not f.endswith("_test.go")
                      and not f.startswith(("zz_generated", "generated.")))
    structs = parse_go([_read(os.path.join(directory, f)) for f in go_files])
    register = os.path.join(directory, "register.go")
    group = kinds = every = None
    if os.path.exists(register) and package.startswith(("k8s.io.api.", "k8s.io.apimachinery.pkg.apis.")):
        group, kinds, every = parse_register(_read(register))
    return {"package": package, "messages": messages, "structs": structs,
            "group": group, "version": package.rsplit(".", 1)[1], "kinds": kinds or [],
            "every": every or []}


def build(directories: list[str]) -> dict:
    """Combine the packages into the table data (see ``table.py`` for the layout)."""
    pkgs = [load_package(d) for d in directories]
    known = {f"{p['package']}.{m}" for p in pkgs for m in p["messages"]}
    messages, wrappers, kinds, everywhere, problems = {}, [], {}, {}, []
    for p in pkgs:
        for mname, msg in p["messages"].items():
            full = f"{p['package']}.{mname}"
            go = p["structs"].get(mname, {})
            if msg["nullable"] and [f[1] for f in msg["fields"]] == ["items"]:
                wrappers.append(full)
            fields = {}
            for num, fname, label, ftype, is_map in msg["fields"]:
                flags = (REPEATED if label == "repeated" else 0) | (MAP if is_map else 0)
                tag = go.get(num)
                json_name = fname
                if tag is None:
                    if go and mname not in ("Time", "MicroTime", "Timestamp", "Duration"):
                        problems.append(f"{full}.{fname}: no Go field with protobuf number {num}")
                else:
                    if tag["inline"]:
                        flags |= INLINE
                    elif tag["json"] and tag["json"] != "-":
                        json_name = tag["json"]
                    flags |= (OMITEMPTY if tag["omitempty"] else 0) | (POINTER if tag["pointer"] else 0)
                if ftype in SCALARS:
                    kind, ref = ftype, None
                else:
                    ref = ftype[1:] if ftype.startswith(".") else f"{p['package']}.{ftype}"
                    if ref not in known:
                        problems.append(f"{full}.{fname}: unknown message type {ref}")
                    kind = "message"
                fields[num] = (json_name, kind, flags, ref)
            messages[full] = fields
        if p["group"] is not None:
            for k in p["kinds"]:
                if k in p["messages"]:
                    kinds[(p["group"], p["version"], k)] = f"{p['package']}.{k}"
            for k in p["every"]:
                if k in p["messages"]:
                    everywhere[k] = f"{p['package']}.{k}"
    if problems:
        raise SystemExit("table problems:\n  " + "\n  ".join(problems))
    return {"messages": messages, "wrappers": sorted(wrappers), "kinds": kinds,
            "everywhere": everywhere}


def render(data: dict, source: str) -> str:
    """Render the table as the JSON document ``apiserver/runtime/protobuf/table.py`` loads."""
    doc = {"source": source,
           "messages": {name: {str(num): list(entry)
                               for num, entry in sorted(data["messages"][name].items())}
                        for name in sorted(data["messages"])},
           "wrappers": sorted(data["wrappers"]),
           "kinds": [list(key) + [data["kinds"][key]] for key in sorted(data["kinds"])],
           "everywhere": dict(sorted(data["everywhere"].items()))}
    return json.dumps(doc, indent=0) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("directories", nargs="+", help="package directories (generated.proto + Go files)")
    ap.add_argument("--output", "-o", default="-", help="output file (default: stdout)")
    ap.add_argument("--source", default="k8s.io/api and k8s.io/apimachinery v0.32.5",
                    help="source description written into the header")
    args = ap.parse_args(argv)
    text = render(build(args.directories), args.source)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
