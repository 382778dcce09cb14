"""The generated field table agrees with the OpenAPI definitions, and the generator works.

The table (``apiserver/runtime/protobuf/table.py``) comes from upstream ``generated.proto`` and
Go sources; the definitions (``apiserver/openapi/definitions.py``) come from
kubernetes-validate.  Two independent sources must name the same JSON properties.
"""
import json

import pytest

from apiserver.openapi import definitions
from apiserver.runtime.protobuf import table
from tools import gen_protobuf_table as gen

SCALAR_TYPES = {"string": {"string"}, "bytes": {"string"}, "bool": {"boolean"},
                "int32": {"integer"}, "int64": {"integer"}, "double": {"number"}}


def _definition(message):
    return definitions.get("io.k8s." + message[len("k8s.io."):])


def _json_fields(message):
    """JSON property → (kind, flags) with inline sub-messages flattened."""
    out = {}
    for json_name, kind, flags, ref in table.MESSAGES[message].values():
        if flags & table.INLINE:
            out.update(_json_fields(ref))
        else:
            out[json_name] = (kind, flags)
    return out


CHECKED = [name for name in sorted(table.MESSAGES)
           if (_definition(name) or {}).get("properties")]


def test_most_messages_have_a_definition():
    assert len(CHECKED) > 550


@pytest.mark.parametrize("message", CHECKED)
def test_table_names_and_types_match_openapi(message):
    props = dict(_definition(message)["properties"])
    if (_definition(message) or {}).get("x-kubernetes-group-version-kind"):
        props.pop("apiVersion", None)
        props.pop("kind", None)
    fields = _json_fields(message)
    assert set(fields) == set(props)
    for name, (kind, flags) in fields.items():
        types = definitions.types_of(definitions.resolve(props[name]))
        if flags & table.MAP:
            assert types == {"object"}, name
        elif flags & table.REPEATED and (kind != "message" or types == {"array"}):
            assert types == {"array"}, name
        elif kind in SCALAR_TYPES:
            assert types <= SCALAR_TYPES[kind], name


def test_every_served_kind_with_a_message_is_in_the_kind_table():
    missing = []
    for name, node in definitions.all_definitions().items():
        message = "k8s.io." + name[len("io.k8s."):]
        for gvk in node.get("x-kubernetes-group-version-kind", ()):
            key = (gvk.get("group", ""), gvk["version"], gvk["kind"])
            if message in table.MESSAGES and key not in table.KINDS \
                    and gvk["kind"] not in table.EVERY_GROUP_VERSION:
                missing.append(key)
    assert not missing


def test_message_references_resolve():
    for name, fields in table.MESSAGES.items():
        for json_name, kind, flags, ref in fields.values():
            assert (kind == "message") == (ref is not None), (name, json_name)
            assert ref is None or ref in table.MESSAGES, (name, json_name)


PROTO = '''
syntax = "proto2";
package k8s.io.api.demo.v1;
import "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto";
// Widget is a demo.
// +protobuf.nullable=true
message Tags {
  repeated string items = 1;
}
message Widget {
  // comment
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional int32 size = 2;
  map<string, bytes> blobs = 3;
  optional Base base = 4;
  repeated Tags tags = 5;
}
message Base {
  optional string colour = 1;
}
'''
GO = '''
package v1
const GroupName = "demo.example.com"
type Widget struct {
\tmetav1.TypeMeta `json:",inline"`
\tmetav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
\t// Size *int32 `json:"old" protobuf:"varint,2,opt,name=size"`
\tSize *int32 `json:"sizeInUnits,omitempty" protobuf:"varint,2,opt,name=size"`
\tBlobs map[string][]byte `json:"blobs" protobuf:"bytes,3,rep,name=blobs"`
\tBase `json:",inline" protobuf:"bytes,4,opt,name=base"`
\tTags []Tags `json:"tags,omitempty" protobuf:"bytes,5,rep,name=tags"`
}
func addKnownTypes(scheme *runtime.Scheme) error {
\tscheme.AddKnownTypes(SchemeGroupVersion, &Widget{}, &metav1.Status{})
}
'''
META_PROTO = '''
syntax = "proto2";
package k8s.io.apimachinery.pkg.apis.meta.v1;
message ObjectMeta {
  optional string name = 1;
}
'''


def test_generator_on_a_small_package(tmp_path):
    demo, meta = tmp_path / "demo" / "v1", tmp_path / "meta" / "v1"
    demo.mkdir(parents=True)
    meta.mkdir(parents=True)
    (demo / "generated.proto").write_text(PROTO)
    (demo / "types.go").write_text(GO)
    (demo / "register.go").write_text(GO)
    (meta / "generated.proto").write_text(META_PROTO)
    out = tmp_path / "table.json"
    assert gen.main([str(meta), str(demo), "--output", str(out)]) == 0
    messages, wrappers, kinds, _ = table.from_data(json.loads(out.read_text()))
    namespace = {"MESSAGES": messages, "LIST_WRAPPERS": wrappers, "KINDS": kinds}
    widget = namespace["MESSAGES"]["k8s.io.api.demo.v1.Widget"]
    assert widget == {
        1: ("metadata", "message", gen.OMITEMPTY, "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
        2: ("sizeInUnits", "int32", gen.OMITEMPTY | gen.POINTER, None),
        3: ("blobs", "bytes", gen.REPEATED | gen.MAP, None),
        4: ("base", "message", gen.INLINE, "k8s.io.api.demo.v1.Base"),
        5: ("tags", "message", gen.REPEATED | gen.OMITEMPTY, "k8s.io.api.demo.v1.Tags"),
    }
    assert namespace["LIST_WRAPPERS"] == frozenset({"k8s.io.api.demo.v1.Tags"})
    assert namespace["KINDS"] == {("demo.example.com", "v1", "Widget"): "k8s.io.api.demo.v1.Widget"}


def test_generator_rejects_what_it_does_not_understand():
    with pytest.raises(SystemExit):
        gen.parse_proto("message A {\n  oneof x {\n  }\n}\n")
