"""Label and field selector parsing/matching, and Go-style boolean parsing."""
import pytest

from apiserver.runtime import errors
from apiserver.runtime import selectors as s

QNAME_TAIL = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


@pytest.mark.parametrize("text,canonical", [
    ("", ""),
    ("   ", ""),
    ("a=b", "a=b"),
    ("a==b", "a==b"),
    ("a!=b", "a!=b"),
    ("a in (x,y)", "a in (x,y)"),
    ("a notin (y, x)", "a notin (x,y)"),
    ("a in (b,b)", "a in (b)"),
    ("a", "a"),
    ("!a", "!a"),
    ("  z = 1 ,  a in ( p ) , !m  ", "a in (p),!m,z=1"),   # whitespace tolerant, sorted by key
    ("in=notin", "in=notin"),                             # keywords are fine as key/value
    ("a in ()", "a in ()"),                               # "()" is the empty value
    ("a in (,)", "a in ()"),
    ("a in (b,,c)", "a in (,b,c)"),
    ("a=", "a="),
    ("example.com/app=web", "example.com/app=web"),
    ("x>1,y<2", "x>1,y<2"),
])
def test_parse_and_canonical_string(text, canonical):
    assert s.parse_label_selector(text).to_string() == canonical


@pytest.mark.parametrize("text,message", [
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a,", "found '', expected: identifier after ','"),
    ("a,,b", "found ',', expected: identifier after ','"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
    ("a in b", "unable to parse requirement: found 'b' expected: '('"),
    ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
    ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
    ("a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("Foo_=1", 'unable to parse requirement: <nil>: Invalid value: "Foo_": name part '
               + QNAME_TAIL),
    ("a=" + "v" * 64, 'unable to parse requirement: values[0][a]: Invalid value: "'
                      + "v" * 64 + '": must be no more than 63 characters'),
    ("x>y", 'unable to parse requirement: values[0]: Invalid value: "y": for \'Gt\', \'Lt\' '
            "operators, the value must be an integer"),
])
def test_malformed_label_selectors(text, message):
    with pytest.raises(errors.BadRequest) as info:
        s.parse_label_selector(text)
    assert info.value.message == message
    assert info.value.code == 400


LABELS = {"app": "web", "tier": "fe", "n": "5"}


@pytest.mark.parametrize("text,expected", [
    ("", True),
    ("app=web", True),
    ("app==web", True),
    ("app=db", False),
    ("app!=db", True),
    ("missing!=x", True),          # != and notin match objects without the key
    ("missing=x", False),
    ("app in (db,web)", True),
    ("app notin (db,web)", False),
    ("missing notin (a)", True),
    ("app", True),
    ("missing", False),
    ("!missing", True),
    ("!app", False),
    ("app=web,tier=be", False),    # commas are AND
    ("app=web,tier=fe", True),
    ("n>4", True),
    ("n<5", False),
    ("app>1", False),              # non-integer label never matches gt/lt
])
def test_label_matching(text, expected):
    assert s.parse_label_selector(text).matches(LABELS) is expected


def test_empty_selector_flags():
    assert s.parse_label_selector("").empty
    assert not s.parse_label_selector("a").empty
    assert s.parse_label_selector("a").matches(None) is False


def test_structured_selector_canonical_string_for_scale():
    sel = s.label_selector_from_dict({
        "matchLabels": {"tier": "fe", "app": "web"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                             {"key": "x", "operator": "DoesNotExist"},
                             {"key": "y", "operator": "Exists"},
                             {"key": "z", "operator": "NotIn", "values": ["q"]}]})
    assert sel.to_string() == "app=web,env in (dev,prod),tier=fe,!x,y,z notin (q)"
    assert sel.matches({"app": "web", "tier": "fe", "env": "dev", "y": ""})
    assert not sel.matches({"app": "web", "tier": "fe", "env": "dev", "y": "", "x": "1"})


def test_structured_selector_nil_matches_nothing_and_empty_everything():
    assert s.label_selector_from_dict(None).matches({}) is False
    assert not s.label_selector_from_dict(None).empty
    assert s.label_selector_from_dict({}).matches({"a": "b"}) is True
    assert s.label_selector_from_dict({}).empty


@pytest.mark.parametrize("selector,message", [
    ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
     '"Gt" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
     "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
     'values: Invalid value: []string{"x"}: values set must be empty for exists and does not '
     "exist"),
    ({"matchLabels": {"-a": "x"}}, 'key: Invalid value: "-a": name part ' + QNAME_TAIL),
])
def test_structured_selector_errors(selector, message):
    with pytest.raises(errors.BadRequest) as info:
        s.label_selector_from_dict(selector)
    assert info.value.message == message


def test_validate_structured_selector_field_errors():
    errs = s.validate_label_selector({
        "matchLabels": {"ok": "yes"},
        "matchExpressions": [{"key": "k", "operator": "In"},
                             {"key": "k", "operator": "Exists", "values": ["x"]},
                             {"key": "k", "operator": "Bogus"},
                             {"key": "k", "operator": "In", "values": ["bad value"]}]},
        "spec.selector")
    assert [(e.type, e.field) for e in errs] == [
        ("FieldValueRequired", "spec.selector.matchExpressions[0].values"),
        ("FieldValueForbidden", "spec.selector.matchExpressions[1].values"),
        ("FieldValueInvalid", "spec.selector.matchExpressions[2].operator"),
        ("FieldValueInvalid", "spec.selector.matchExpressions[3].values[0]"),
    ]
    assert errs[0].detail == "must be specified when `operator` is 'In' or 'NotIn'"
    assert errs[2].detail == "not a valid selector operator"
    assert s.validate_label_selector(None, "spec.selector") == []


# ------------------------------------------------------------------ field selectors

@pytest.mark.parametrize("text,requirements,canonical", [
    ("", [], ""),
    ("metadata.name=foo", [("metadata.name", "=", "foo")], "metadata.name=foo"),
    ("metadata.name==foo", [("metadata.name", "==", "foo")], "metadata.name=foo"),
    ("status.phase!=Running,metadata.name=a",
     [("metadata.name", "=", "a"), ("status.phase", "!=", "Running")],
     "metadata.name=a,status.phase!=Running"),
    (r"a=b\,c", [("a", "=", "b,c")], r"a=b\,c"),
    (r"a=b\=c", [("a", "=", "b=c")], r"a=b\=c"),
    (r"a=b\\c", [("a", "=", "b\\c")], r"a=b\\c"),
    ("b=1,,a=2", [("a", "=", "2"), ("b", "=", "1")], "a=2,b=1"),
    ("spec.nodeName=", [("spec.nodeName", "=", "")], "spec.nodeName="),
    ("a=!b", [("a", "=", "!b")], "a=!b"),
])
def test_field_selector_parse(text, requirements, canonical):
    sel = s.parse_field_selector(text)
    assert sel.requirements == requirements
    assert sel.to_string() == canonical
    assert sel.empty is (not requirements)


@pytest.mark.parametrize("text,message", [
    ("ab", "invalid selector: 'ab'; can't understand 'ab'"),
    ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
    ("a=b=c", "invalid field selector: unescaped character in value: 61"),
    ("a=b,c=d,e", "invalid selector: 'a=b,c=d,e'; can't understand 'e'"),
    (r"a=b\x", r"invalid field selector: invalid escape sequence: \x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
])
def test_field_selector_errors(text, message):
    with pytest.raises(errors.BadRequest) as info:
        s.parse_field_selector(text)
    assert info.value.message == message


@pytest.mark.parametrize("text,fields,expected", [
    ("metadata.name=a", {"metadata.name": "a"}, True),
    ("metadata.name=a", {"metadata.name": "b"}, False),
    ("metadata.name!=a", {"metadata.name": "b"}, True),
    ("spec.nodeName=", {}, True),            # a missing field reads as ""
    ("spec.nodeName!=", {"spec.nodeName": "n1"}, True),
    ("a=1,b=2", {"a": "1", "b": "3"}, False),
    (r"a=x\,y", {"a": "x,y"}, True),
])
def test_field_selector_matching(text, fields, expected):
    assert s.parse_field_selector(text).matches(fields) is expected


def test_field_selector_validate_allowed_labels():
    allowed = {"metadata.name", "metadata.namespace"}
    s.parse_field_selector("metadata.name=a,metadata.namespace=b").validate(allowed, "pods")
    with pytest.raises(errors.BadRequest) as info:
        s.parse_field_selector("metadata.name=a,spec.bogus=x").validate(allowed, "pods")
    assert info.value.message == "field label not supported: spec.bogus"


def test_field_selector_exact_match_lookup():
    sel = s.parse_field_selector("metadata.name=a,spec.nodeName!=n")
    assert sel.requires_exact_match("metadata.name") == "a"
    assert sel.requires_exact_match("spec.nodeName") is None


# ------------------------------------------------------------------ booleans

@pytest.mark.parametrize("text,expected", [
    *[(t, True) for t in ("1", "t", "T", "TRUE", "true", "True")],
    *[(f, False) for f in ("0", "f", "F", "FALSE", "false", "False")],
])
def test_parse_bool_accepts_go_spellings(text, expected):
    assert s.parse_bool(text) is expected


@pytest.mark.parametrize("text", ["", "yes", "tRUE", "2", " true"])
def test_parse_bool_rejects_others(text):
    with pytest.raises(errors.BadRequest) as info:
        s.parse_bool(text)
    assert info.value.message == f'strconv.ParseBool: parsing "{text}": invalid syntax'


@pytest.mark.parametrize("values,expected", [
    (None, False), ([], False), ("0", False), ("FaLsE", False), (["false", "true"], False),
    ("1", True), ("true", True), ("yes", True), ("", True),
])
def test_query_bool_is_lenient_like_upstream_query_decoding(values, expected):
    assert s.query_bool(values) is expected
