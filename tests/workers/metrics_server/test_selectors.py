"""Selector strings of the metrics API's lists (workers/metrics_server/selectors.py), as
apimachinery labels.Parse and fields.ParseSelector read them, judged by what they select."""
from __future__ import annotations

import pytest

from workers.metrics_server.selectors import (SelectorError, parse_field_selector,
                                              parse_label_selector)
from workers.scheduler.selectors import label_selector_matches

WEB = {"app": "web", "tier": "front"}
DB = {"app": "db", "tier": "back", "canary": "true"}
NONE: dict = {}


def selects(text, labels) -> bool:
    return label_selector_matches(parse_label_selector(text), labels)


@pytest.mark.parametrize("text, web, db, none", [
    ("app=web", True, False, False),
    ("app==web", True, False, False),
    ("app!=web", False, True, True),            # a missing key satisfies !=
    ("app in (web, db)", True, True, False),
    ("tier notin (back)", True, False, True),
    ("canary", False, True, False),
    ("!canary", True, False, True),
    ("app=web,tier=front", True, False, False),
    ("app in (web,db),!canary", True, False, False),
    (" app = web ", True, False, False),
    ("app=", False, False, False),              # an empty value is a value
])
def test_label_selectors_select_as_upstream(text, web, db, none):
    assert (selects(text, WEB), selects(text, DB), selects(text, NONE)) == (web, db, none)


def test_an_empty_label_selector_is_no_filter():
    assert parse_label_selector("") is None and parse_label_selector("  ") is None


@pytest.mark.parametrize("text", ["app=we b", "a,,b", ",", "app=web,", "-app=x",
                                  "app in (a b)", f"app={'x' * 64}", "!"])
def test_bad_label_selectors_are_errors(text):
    with pytest.raises(SelectorError, match="unable to parse requirement"):
        parse_label_selector(text)


def test_field_selectors_on_name_and_namespace():
    assert parse_field_selector("") == []
    assert parse_field_selector("metadata.name=web") == [("metadata.name", True, "web")]
    assert parse_field_selector("metadata.namespace!=kube-system,metadata.name==db") == [
        ("metadata.namespace", False, "kube-system"), ("metadata.name", True, "db")]
    # empty terms are skipped, as fields.ParseSelector does
    assert parse_field_selector("metadata.name=web,") == [("metadata.name", True, "web")]


def test_other_fields_are_refused_with_upstreams_message():
    with pytest.raises(SelectorError) as err:
        parse_field_selector("spec.nodeName=node-1")
    assert str(err.value) == ('"spec.nodeName" is not a known field selector: only '
                              '"metadata.name", "metadata.namespace"')
    with pytest.raises(SelectorError) as err:
        parse_field_selector("metadata.name")
    assert str(err.value) == ("invalid selector: 'metadata.name'; can't understand "
                              "'metadata.name'")
