"""PolicyRules: matching a request against a rule, comparing rule sets, describing rules.

Upstream:
* kubernetes/kubernetes:pkg/apis/rbac/v1/evaluation_helpers.go — ``VerbMatches``,
  ``APIGroupMatches``, ``ResourceMatches`` (``*``, exact, and ``*/<subresource>``),
  ``ResourceNameMatches``, ``NonResourceURLMatches`` (a trailing ``*`` is a prefix), and
  ``CompactString`` (the rule text of escalation messages);
* kubernetes/kubernetes:plugin/pkg/auth/authorizer/rbac/rbac.go — ``RuleAllows``;
* kubernetes/kubernetes:staging/src/k8s.io/component-helpers/auth/rbac/validation/
  policy_comparator.go — ``Covers``/``BreakdownRule`` (does one rule set include another);
* kubernetes/kubernetes:pkg/registry/rbac/validation/policy_compact.go — ``CompactRules``.

Rules are parsed once from their wire form into :class:`Rule` (tuples, so the in-memory
index can share them between threads without copying); anything malformed in a stored
document counts as absent, never as a wildcard.
"""
from __future__ import annotations

from dataclasses import dataclass

ALL = "*"                    # rbacv1.VerbAll / APIGroupAll / ResourceAll / NonResourceAll


def _strings(value) -> tuple:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


@dataclass(frozen=True, slots=True)
class Rule:
    verbs: tuple = ()
    api_groups: tuple = ()
    resources: tuple = ()
    resource_names: tuple = ()
    non_resource_urls: tuple = ()

    @classmethod
    def from_dict(cls, rule) -> "Rule":
        rule = rule if isinstance(rule, dict) else {}
        return cls(_strings(rule.get("verbs")), _strings(rule.get("apiGroups")),
                   _strings(rule.get("resources")), _strings(rule.get("resourceNames")),
                   _strings(rule.get("nonResourceURLs")))

    def to_dict(self) -> dict:
        """The wire ``PolicyRule`` (empty lists omitted, as ``omitempty``; verbs always)."""
        out = {"verbs": list(self.verbs)}
        for key, value in (("apiGroups", self.api_groups), ("resources", self.resources),
                           ("resourceNames", self.resource_names),
                           ("nonResourceURLs", self.non_resource_urls)):
            if value:
                out[key] = list(value)
        return out

    def resource_rule(self) -> dict:
        """A SelfSubjectRulesReview ``ResourceRule`` (upstream ``DefaultResourceRuleInfo``)."""
        out = {"verbs": list(self.verbs)}
        for key, value in (("apiGroups", self.api_groups), ("resources", self.resources),
                           ("resourceNames", self.resource_names)):
            if value:
                out[key] = list(value)
        return out

    def non_resource_rule(self) -> dict:
        return {"verbs": list(self.verbs), "nonResourceURLs": list(self.non_resource_urls)}


def parse_rules(rules) -> tuple:
    """A stored ``rules`` list as a tuple of :class:`Rule`."""
    return tuple(Rule.from_dict(r) for r in rules) if isinstance(rules, list) else ()


# ---------------------------------------------------------------- matching a request

def verb_matches(rule: Rule, verb: str) -> bool:
    return ALL in rule.verbs or verb in rule.verbs


def api_group_matches(rule: Rule, group: str) -> bool:
    return ALL in rule.api_groups or group in rule.api_groups


def resource_matches(rule: Rule, combined: str, subresource: str) -> bool:
    """``combined`` is ``resource`` or ``resource/subresource``; a rule's ``*/sub`` matches
    that subresource of every resource."""
    for resource in rule.resources:
        if resource == ALL or resource == combined:
            return True
        if subresource and resource == "*/" + subresource:
            return True
    return False


def resource_name_matches(rule: Rule, name: str) -> bool:
    """No resourceNames: any name (and requests without one, such as list or create)."""
    return not rule.resource_names or name in rule.resource_names


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    for url in rule.non_resource_urls:
        if url == ALL or url == path:
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(attrs, rule: Rule) -> bool:
    """Does ``rule`` allow the request ``attrs`` (AuthorizationAttributes)?"""
    if attrs.is_resource_request:
        combined = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        return (verb_matches(rule, attrs.verb) and api_group_matches(rule, attrs.api_group)
                and resource_matches(rule, combined, attrs.subresource)
                and resource_name_matches(rule, attrs.name))
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)


# ---------------------------------------------------------------- comparing rule sets

def breakdown(rule: Rule) -> list[Rule]:
    """``rule`` as rules of one group, resource, verb and (if any) name each; non-resource
    URLs pair with verbs only."""
    out = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                if rule.resource_names:
                    out += [Rule((verb,), (group,), (resource,), (name,))
                            for name in rule.resource_names]
                else:
                    out.append(Rule((verb,), (group,), (resource,)))
    for url in rule.non_resource_urls:
        out += [Rule((verb,), non_resource_urls=(url,)) for verb in rule.verbs]
    return out


def _resources_cover(owned: tuple, wanted: tuple) -> bool:
    if ALL in owned:
        return True
    for resource in wanted:
        if resource in owned:
            continue
        # a subresource is also covered by the owner's "*/<subresource>"
        if "/" not in resource or "*/" + resource.split("/", 1)[1] not in owned:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def rule_covers(owner: Rule, sub: Rule) -> bool:
    """Does ``owner`` include ``sub`` (one of :func:`breakdown`'s pieces)?"""
    if not (ALL in owner.verbs or set(sub.verbs) <= set(owner.verbs)):
        return False
    if not (ALL in owner.api_groups or set(sub.api_groups) <= set(owner.api_groups)):
        return False
    if not _resources_cover(owner.resources, sub.resources):
        return False
    if not all(any(_url_covers(o, p) for o in owner.non_resource_urls)
               for p in sub.non_resource_urls):
        return False
    if not sub.resource_names:
        return not owner.resource_names
    return not owner.resource_names or set(sub.resource_names) <= set(owner.resource_names)


def covers(owner_rules, servant_rules) -> tuple[bool, list[Rule]]:
    """(whether ``owner_rules`` include every permission of ``servant_rules``, the broken-down
    pieces they do not include)."""
    missing = [sub for rule in servant_rules for sub in breakdown(rule)
               if not any(rule_covers(owner, sub) for owner in owner_rules)]
    return not missing, missing


def compact(rules) -> list[Rule]:
    """Rules of exactly one group and one resource (and nothing else) merged by verb; the
    rest unchanged, first."""
    out, simple = [], {}
    for rule in rules:
        if (len(rule.api_groups) == 1 and len(rule.resources) == 1
                and not rule.resource_names and not rule.non_resource_urls):
            key = (rule.api_groups[0], rule.resources[0])
            held = simple.get(key)
            simple[key] = rule if held is None else Rule(held.verbs + rule.verbs,
                                                         rule.api_groups, rule.resources)
        else:
            out.append(rule)
    return out + list(simple.values())


# ---------------------------------------------------------------- describing rules

def go_quote(text: str) -> str:
    """Go's ``%q`` of a string (``strconv.Quote``) for the characters names can hold."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def go_quote_list(values) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


def compact_string(rule: Rule) -> str:
    """Upstream ``CompactString``: ``{APIGroups:[""], Resources:["pods"], Verbs:["get"]}``."""
    parts = [f"{label}:{go_quote_list(value)}" for label, value in (
        ("APIGroups", rule.api_groups), ("Resources", rule.resources),
        ("NonResourceURLs", rule.non_resource_urls), ("ResourceNames", rule.resource_names),
        ("Verbs", rule.verbs)) if value]
    return "{" + ", ".join(parts) + "}"
