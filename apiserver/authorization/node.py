"""The Node authorization mode: what a kubelet may do, decided from the graph of the pods
bound to its node.

Upstream: kubernetes/kubernetes:plugin/pkg/auth/authorizer/node/node_authorizer.go (with the
``AuthorizeNodeWithSelectors`` behaviour, on by default in 1.32), the node identity of
pkg/auth/nodeidentifier/default.go and the static rules of
plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go ``NodeRules``.

Only users named ``system:node:<name>`` in group ``system:nodes`` are judged; everybody else
gets NoOpinion, so the next mode (usually RBAC) decides.  For a node:

* secrets, configmaps: get/list/watch of one named object in a namespace that a pod bound to
  the node references (``node <- pod <- secret``, also through ``pvc <- pv <- secret``);
* persistentvolumeclaims, persistentvolumes, volumeattachments, pods: get of a related
  object; pvc ``status`` update/patch of a related claim;
* serviceaccounts: create ``token`` for the service account of a pod bound to the node;
* leases in ``kube-node-lease`` and csinodes: get/create/update/patch/delete of the one named
  after the node (create is checked by the NodeRestriction admission plugin);
* nodes: get/list/watch of its own Node only; create/update/patch and status update/patch
  (NodeRestriction limits them to its own Node);
* pods: list/watch only with the field selector ``spec.nodeName=<node>`` (or one named
  related pod); create/delete (mirror pods), status update/patch, eviction create
  (NodeRestriction limits them to pods bound to the node);
* everything else: the static ``NODE_RULES`` (events, CSRs, services, token and access
  reviews, …) allow, or NoOpinion.

The graph is held elsewhere (resources.authorization.node_graph builds it from the change
log); this module asks it one question, :meth:`has_path`, and never touches storage.
May import: apiserver.runtime and apiserver.authentication.user.
"""
from __future__ import annotations

from apiserver.authorization.base import Authorizer, Decision
from apiserver.runtime.selectors import parse_field_selector

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
NODE_LEASE_NAMESPACE = "kube-node-lease"

# vertex types of the graph (upstream graph.go ``vertexTypes``)
CONFIGMAP, POD, PVC, PV, SECRET = "configmap", "pod", "pvc", "pv", "secret"
VOLUME_ATTACHMENT, SERVICE_ACCOUNT, RESOURCE_CLAIM = ("volumeattachment", "serviceAccount",
                                                      "resourceclaim")

READ = ("get", "list", "watch")


def _rule(verbs, group, *resources) -> dict:
    return {"verbs": list(verbs), "apiGroups": [group], "resources": list(resources)}


# upstream bootstrappolicy.NodeRules() of 1.32 (feature-gated rules as their 1.32 defaults)
NODE_RULES = (
    _rule(("create",), "authentication.k8s.io", "tokenreviews"),
    _rule(("create",), "authorization.k8s.io", "subjectaccessreviews",
          "localsubjectaccessreviews"),
    _rule(READ, "", "services"),
    _rule(("create", "get", "list", "watch"), "", "nodes"),
    _rule(("update", "patch"), "", "nodes/status"),
    _rule(("update", "patch"), "", "nodes"),
    _rule(("create", "update", "patch"), "", "events"),
    _rule(READ, "", "pods"),
    _rule(("create", "delete"), "", "pods"),
    _rule(("update", "patch"), "", "pods/status"),
    _rule(("create",), "", "pods/eviction"),
    _rule(READ, "", "secrets", "configmaps"),
    _rule(("get",), "", "persistentvolumeclaims", "persistentvolumes"),
    _rule(("get",), "", "endpoints"),
    _rule(("create", "get", "list", "watch"), "certificates.k8s.io",
          "certificatesigningrequests"),
    _rule(("get", "create", "update", "patch", "delete"), "coordination.k8s.io", "leases"),
    _rule(("get",), "storage.k8s.io", "volumeattachments"),
    _rule(("create",), "", "serviceaccounts/token"),
    _rule(("get", "update", "patch"), "", "persistentvolumeclaims/status"),
    _rule(("get", "watch", "list"), "storage.k8s.io", "csidrivers"),
    _rule(("get", "create", "update", "patch", "delete"), "storage.k8s.io", "csinodes"),
    _rule(READ, "node.k8s.io", "runtimeclasses"),
)


def node_identity(user) -> tuple[str, bool]:
    """(node name, is a node): a node is ``system:node:<name>`` in ``system:nodes``; its
    name may be "" (a node nobody can tell apart), upstream ``NodeIdentity``."""
    name = getattr(user, "name", "") if user is not None else ""
    if not name.startswith(NODE_USER_PREFIX):
        return "", False
    if NODES_GROUP not in tuple(getattr(user, "groups", ()) or ()):
        return "", False
    return name[len(NODE_USER_PREFIX):], True


def rules_allow(attrs, rules) -> bool:
    """Whether a resource request matches one of ``rules`` (verbs, API groups and
    ``resource[/subresource]`` each equal or ``*``; these rules name no resourceNames)."""
    if not attrs.is_resource_request:
        return False
    combined = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    for rule in rules:
        if (attrs.verb in rule["verbs"] or "*" in rule["verbs"]) and \
                (attrs.api_group in rule["apiGroups"] or "*" in rule["apiGroups"]) and \
                (combined in rule["resources"] or "*" in rule["resources"]):
            return True
    return False


def _field_requirements(attrs) -> list:
    """The request's field selector terms.  Attributes carry the raw ``fieldSelector`` (a
    string) as ``field_selector`` when the server passes it; an unparsable selector counts
    as none, as upstream ignores ``GetFieldSelector``'s error."""
    raw = getattr(attrs, "field_selector", None)
    if not raw:
        return []
    if isinstance(raw, str):
        try:
            return list(parse_field_selector(raw).requirements)
        except Exception:       # the list itself answers the malformed selector with a 400
            return []
    return list(getattr(raw, "requirements", raw))


def _selects(attrs, field: str, value: str) -> bool:
    return any(f == field and op in ("=", "==") and v == value
               for f, op, v in _field_requirements(attrs))


NO_OPINION = Decision.NO_OPINION


class NodeAuthorizer(Authorizer):
    """Upstream ``NodeAuthorizer``.  ``graph.has_path(node, vertex_type, namespace, name)``
    answers whether the object is related to the node; it must not block on storage."""

    name = "Node"

    def __init__(self, graph, rules=NODE_RULES):
        self.graph = graph
        self.rules = tuple(rules)

    def rules_for(self, user, namespace):
        """Nodes' permissions cannot be listed: nothing, marked incomplete; others: none."""
        _, is_node = node_identity(user)
        return [], [], is_node

    def authorize(self, attrs):
        node, is_node = node_identity(attrs.user)
        if not is_node:
            return NO_OPINION, ""
        if not node:
            return NO_OPINION, f'unknown node for user "{attrs.user.name}"'
        if attrs.is_resource_request:
            handler = _HANDLERS.get((attrs.api_group, attrs.resource))
            if handler is not None:
                return handler(self, node, attrs)
        if rules_allow(attrs, self.rules):
            return Decision.ALLOW, ""
        return NO_OPINION, ""

    # ---- subdivided resources (upstream's authorize* methods) ----------------------------
    def _related(self, node, vertex_type, attrs):
        if not attrs.name:
            return NO_OPINION, "No Object name found"
        if self.graph.has_path(node, vertex_type, attrs.namespace, attrs.name):
            return Decision.ALLOW, ""
        return NO_OPINION, f"no relationship found between node '{node}' and this object"

    def _read_namespaced(self, node, vertex_type, attrs):
        if attrs.verb not in READ:
            return NO_OPINION, "can only read resources of this type"
        if attrs.subresource:
            return NO_OPINION, "cannot read subresource"
        if not attrs.namespace:
            return NO_OPINION, "can only read namespaced object of this type"
        return self._related(node, vertex_type, attrs)

    def _get(self, node, vertex_type, attrs):
        if attrs.verb != "get":
            return NO_OPINION, "can only get individual resources of this type"
        if attrs.subresource:
            return NO_OPINION, "cannot get subresource"
        return self._related(node, vertex_type, attrs)

    def _status_update(self, node, vertex_type, attrs):
        if attrs.verb not in ("update", "patch"):
            return NO_OPINION, "can only get/update/patch this type"
        if attrs.subresource != "status":
            return NO_OPINION, "can only update status subresource"
        return self._related(node, vertex_type, attrs)

    def secrets(self, node, attrs):
        return self._read_namespaced(node, SECRET, attrs)

    def configmaps(self, node, attrs):
        return self._read_namespaced(node, CONFIGMAP, attrs)

    def persistentvolumeclaims(self, node, attrs):
        if attrs.subresource == "status":
            return self._status_update(node, PVC, attrs)
        return self._get(node, PVC, attrs)

    def persistentvolumes(self, node, attrs):
        return self._get(node, PV, attrs)

    def resourceclaims(self, node, attrs):
        return self._get(node, RESOURCE_CLAIM, attrs)

    def volumeattachments(self, node, attrs):
        return self._get(node, VOLUME_ATTACHMENT, attrs)

    def serviceaccounts(self, node, attrs):
        if attrs.verb != "create" or not attrs.name:
            return NO_OPINION, "can only create tokens for individual service accounts"
        if attrs.subresource != "token":
            return NO_OPINION, "can only create token subresource of serviceaccount"
        if self.graph.has_path(node, SERVICE_ACCOUNT, attrs.namespace, attrs.name):
            return Decision.ALLOW, ""
        return NO_OPINION, f"no relationship found between node '{node}' and this object"

    def leases(self, node, attrs):
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return NO_OPINION, "can only get, create, update, patch, or delete a node lease"
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            return NO_OPINION, f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace'
        # the name of a create is not known here: NodeRestriction checks it
        if attrs.verb != "create" and attrs.name != node:
            return NO_OPINION, "can only access node lease with the same name as the requesting node"
        return Decision.ALLOW, ""

    def csinodes(self, node, attrs):
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return NO_OPINION, "can only get, create, update, patch, or delete a CSINode"
        if attrs.subresource:
            return NO_OPINION, "cannot authorize CSINode subresources"
        if attrs.verb != "create" and attrs.name != node:
            return NO_OPINION, "can only access CSINode with the same name as the requesting node"
        return Decision.ALLOW, ""

    def nodes(self, node, attrs):
        verb, sub = attrs.verb, attrs.subresource
        if sub == "" and verb in ("create", "update", "patch"):
            return Decision.ALLOW, ""      # NodeRestriction limits these to its own Node
        if sub == "" and verb in READ:
            # by name, not through the graph: a kubelet reads its Node before creating it
            if attrs.name == node:
                return Decision.ALLOW, ""
            if not attrs.name:
                return NO_OPINION, f"node '{node}' cannot read all nodes, only its own Node object"
            return NO_OPINION, (f"node '{node}' cannot read '{attrs.name}', "
                                "only its own Node object")
        if sub == "status" and verb in ("update", "patch"):
            return Decision.ALLOW, ""
        return NO_OPINION, ""

    def pods(self, node, attrs):
        verb, sub = attrs.verb, attrs.subresource
        if sub == "":
            if verb == "get":
                return self._get(node, POD, attrs)
            if verb in ("list", "watch"):
                if _selects(attrs, "spec.nodeName", node):
                    return Decision.ALLOW, ""
                if attrs.name:          # one named pod (a metadata.name field selector)
                    return self._related(node, POD, attrs)
                return NO_OPINION, "can only list/watch pods with spec.nodeName field selector"
            if verb in ("create", "delete"):
                return Decision.ALLOW, ""  # mirror pods; NodeRestriction checks the binding
        elif sub == "status" and verb in ("update", "patch"):
            return Decision.ALLOW, ""
        elif sub == "eviction" and verb == "create":
            return Decision.ALLOW, ""
        return NO_OPINION, ""


_HANDLERS = {
    ("", "secrets"): NodeAuthorizer.secrets,
    ("", "configmaps"): NodeAuthorizer.configmaps,
    ("", "persistentvolumeclaims"): NodeAuthorizer.persistentvolumeclaims,
    ("", "persistentvolumes"): NodeAuthorizer.persistentvolumes,
    ("resource.k8s.io", "resourceclaims"): NodeAuthorizer.resourceclaims,
    ("storage.k8s.io", "volumeattachments"): NodeAuthorizer.volumeattachments,
    ("", "serviceaccounts"): NodeAuthorizer.serviceaccounts,
    ("coordination.k8s.io", "leases"): NodeAuthorizer.leases,
    ("storage.k8s.io", "csinodes"): NodeAuthorizer.csinodes,
    ("", "nodes"): NodeAuthorizer.nodes,
    ("", "pods"): NodeAuthorizer.pods,
}
