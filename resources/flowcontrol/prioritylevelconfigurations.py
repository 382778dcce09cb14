"""flowcontrol.apiserver.k8s.io/v1 PriorityLevelConfiguration (cluster-scoped, /status).

Upstream: kubernetes/kubernetes:pkg/apis/flowcontrol/v1/defaults.go
(``SetDefaults_LimitedPriorityLevelConfiguration``: nominalConcurrencyShares 30 when unset,
lendablePercent 0; ``SetDefaults_ExemptPriorityLevelConfiguration``: both 0;
``SetDefaults_QueuingConfiguration``: queues 64, handSize 8, queueLengthLimit 50),
kubernetes/kubernetes:pkg/apis/flowcontrol/validation/validation.go
(``ValidatePriorityLevelConfigurationSpec``, ``ValidateLimitedPriorityLevelConfiguration``,
``ValidateExemptPriorityLevelConfiguration``, ``ValidateLimitResponse``,
``ValidatePriorityLevelQueuingConfiguration``, ``ValidateIfMandatoryPriorityLevelConfigurationObject``),
kubernetes/kubernetes:pkg/registry/flowcontrol/prioritylevelconfiguration/strategy.go
(status reset and generation 1 on create, bumped on spec changes; a zero
nominalConcurrencyShares is accepted, the ZeroLimitedNominalConcurrencyShares gate being GA)
and ``printPriorityLevelConfiguration``.
"""
from __future__ import annotations

import copy
import json
import math

from apiserver.registry.printers import age
from apiserver.registry.strategy import STATUS, Strategy
from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError
from apiserver.runtime.validation import GoText
from resources.core.columns import column

from .bootstrap import mandatory_spec
from .common import obj_of, semantic, validate_status_conditions

TYPES = ("Exempt", "Limited")
RESPONSE_TYPES = ("Queue", "Reject")
DEFAULT_SHARES = 30
DEFAULT_QUEUES, DEFAULT_HAND_SIZE, DEFAULT_QUEUE_LENGTH = 64, 8, 50
MAX_QUEUES = 10 * 1000 * 1000
MAX_HASH_BITS = 60                  # kubernetes/apiserver:pkg/util/shufflesharding
_V1 = "io.k8s.api.flowcontrol.v1."
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class PriorityLevelConfigurationStrategy(Strategy):
    group = "flowcontrol.apiserver.k8s.io"
    kind = "PriorityLevelConfiguration"
    plural = "prioritylevelconfigurations"
    namespaced = False
    subresources = (STATUS,)
    schema_name = _V1 + "PriorityLevelConfiguration"
    tracks_generation = True
    columns = (
        column("Name", _META, "name", format="name"),
        column("Type", _V1 + "PriorityLevelConfigurationSpec", "type"),
        column("NominalConcurrencyShares", _V1 + "LimitedPriorityLevelConfiguration",
               "nominalConcurrencyShares"),
        column("Queues", _V1 + "QueuingConfiguration", "queues"),
        column("HandSize", _V1 + "QueuingConfiguration", "handSize"),
        column("QueueLengthLimit", _V1 + "QueuingConfiguration", "queueLengthLimit"),
        column("Age", _META, "creationTimestamp"),
    )

    def default(self, obj):
        spec = obj.get("spec")
        if isinstance(spec, dict):
            default_spec(spec)

    def validate(self, ctx, obj):
        return validate_priority_level(obj)

    def validate_update(self, ctx, new, old):
        return validate_priority_level(new)       # upstream: the same checks as create

    def validate_status_update(self, ctx, new, old):
        return validate_status_conditions(obj_of(new.get("status")), "status")

    def table_row(self, obj):
        spec = obj_of(obj.get("spec"))
        shares = queues = hand = length = "<none>"
        lim = spec.get("limited")
        if isinstance(lim, dict):
            shares = lim.get("nominalConcurrencyShares", 0)
            queuing = obj_of(lim.get("limitResponse")).get("queuing")
            if isinstance(queuing, dict):
                queues, hand = queuing.get("queues", 0), queuing.get("handSize", 0)
                length = queuing.get("queueLengthLimit", 0)
        return [obj["metadata"].get("name", ""), spec.get("type", ""), shares, queues, hand,
                length, age(obj)]


def default_spec(spec: dict) -> None:
    """The v1 defaulters for the blocks present (an absent block stays absent)."""
    lim = spec.get("limited")
    if isinstance(lim, dict):
        if lim.get("nominalConcurrencyShares") is None:
            lim["nominalConcurrencyShares"] = DEFAULT_SHARES
        if lim.get("lendablePercent") is None:
            lim["lendablePercent"] = 0
        queuing = obj_of(lim.get("limitResponse")).get("queuing")
        if isinstance(queuing, dict):
            for key, value in (("handSize", DEFAULT_HAND_SIZE), ("queues", DEFAULT_QUEUES),
                               ("queueLengthLimit", DEFAULT_QUEUE_LENGTH)):
                if not queuing.get(key):
                    queuing[key] = value
    exempt = spec.get("exempt")
    if isinstance(exempt, dict):
        for key in ("nominalConcurrencyShares", "lendablePercent"):
            if exempt.get(key) is None:
                exempt[key] = 0


def validate_priority_level(obj: dict) -> list[FieldError]:
    """``ValidatePriorityLevelConfiguration`` after ObjectMeta."""
    name = obj_of(obj.get("metadata")).get("name") or ""
    spec = obj_of(obj.get("spec"))
    errs = validate_spec(spec, name, "spec")
    errs += validate_mandatory(spec, name)
    return errs + validate_status_conditions(obj_of(obj.get("status")), "status")


def validate_mandatory(spec: dict, name: str) -> list[FieldError]:
    """``ValidateIfMandatoryPriorityLevelConfigurationObject``: ``catch-all`` keeps its fixed
    spec; ``exempt`` too, except its ``spec.exempt`` block, which admins may tune."""
    fixed = mandatory_spec("prioritylevelconfigurations", name)
    if fixed is None:
        return []
    want = copy.deepcopy(fixed)
    default_spec(want)
    have = dict(spec)
    shown = GoText(json.dumps(spec, sort_keys=True))
    if name == "exempt":
        have["exempt"] = want.get("exempt")
        if not semantic(have, want):
            return [errors.invalid("spec", shown, f"spec of '{name}' except the 'spec.exempt' "
                                   "field must equal the fixed value")]
        return []
    if not semantic(have, want):
        return [errors.invalid("spec", shown, f"spec of '{name}' must equal the fixed value")]
    return []


def validate_spec(spec: dict, name: str, path: str) -> list[FieldError]:
    """``ValidatePriorityLevelConfigurationSpec``."""
    errs: list[FieldError] = []
    kind = spec.get("type") or ""
    if (name == "exempt") != (kind == "Exempt"):
        errs.append(errors.invalid(path + ".type", kind, "type must be 'Exempt' if and only if "
                                                         "name is 'exempt'"))
    if kind == "Exempt":
        if spec.get("limited") is not None:
            errs.append(errors.forbidden(path + ".limited", "must be nil if the type is not Limited"))
        if spec.get("exempt") is not None:
            errs += validate_shares_and_lending(obj_of(spec["exempt"]), path + ".exempt")
    elif kind == "Limited":
        if spec.get("exempt") is not None:
            errs.append(errors.forbidden(path + ".exempt", "must be nil if the type is Limited"))
        if spec.get("limited") is None:
            errs.append(errors.required(path + ".limited", "must not be empty when type is Limited"))
        else:
            errs += validate_limited(obj_of(spec["limited"]), path + ".limited")
    else:
        errs.append(errors.not_supported(path + ".type", kind, TYPES))
    return errs


def validate_shares_and_lending(block: dict, path: str) -> list[FieldError]:
    """``ValidateExemptPriorityLevelConfiguration`` (and the same two fields of Limited)."""
    errs: list[FieldError] = []
    shares = block.get("nominalConcurrencyShares")
    if isinstance(shares, int) and shares < 0:
        errs.append(errors.invalid(path + ".nominalConcurrencyShares", shares,
                                   "must be a non-negative integer"))
    lendable = block.get("lendablePercent")
    if isinstance(lendable, int) and not 0 <= lendable <= 100:
        errs.append(errors.invalid(path + ".lendablePercent", lendable,
                                   "must be between 0 and 100, inclusive"))
    return errs


def validate_limited(lim: dict, path: str) -> list[FieldError]:
    """``ValidateLimitedPriorityLevelConfiguration``."""
    errs: list[FieldError] = []
    shares = lim.get("nominalConcurrencyShares", 0)
    if isinstance(shares, int) and shares < 0:
        errs.append(errors.invalid(path + ".nominalConcurrencyShares", shares,
                                   "must be a non-negative integer"))
    errs += validate_limit_response(obj_of(lim.get("limitResponse")), path + ".limitResponse")
    lendable = lim.get("lendablePercent")
    if isinstance(lendable, int) and not 0 <= lendable <= 100:
        errs.append(errors.invalid(path + ".lendablePercent", lendable,
                                   "must be between 0 and 100, inclusive"))
    borrowing = lim.get("borrowingLimitPercent")
    if isinstance(borrowing, int) and borrowing < 0:
        errs.append(errors.invalid(path + ".borrowingLimitPercent", borrowing,
                                   "if specified, must be a non-negative integer"))
    return errs


def validate_limit_response(response: dict, path: str) -> list[FieldError]:
    """``ValidateLimitResponse``: Reject has no queuing, Queue needs it."""
    kind = response.get("type") or ""
    queuing = response.get("queuing")
    if kind == "Reject":
        if queuing is not None:
            return [errors.forbidden(path + ".queuing",
                                     "must be nil if limited.limitResponse.type is not Limited")]
        return []
    if kind == "Queue":
        if queuing is None:
            return [errors.required(path + ".queuing",
                                    "must not be empty if limited.limitResponse.type is Limited")]
        return validate_queuing(obj_of(queuing), path + ".queuing")
    return [errors.not_supported(path + ".type", kind, RESPONSE_TYPES)]


def validate_queuing(q: dict, path: str) -> list[FieldError]:
    """``ValidatePriorityLevelQueuingConfiguration``: positive sizes within shuffle
    sharding's limits."""
    errs: list[FieldError] = []
    length, queues, hand = q.get("queueLengthLimit", 0), q.get("queues", 0), q.get("handSize", 0)
    if not all(isinstance(v, int) for v in (length, queues, hand)):
        return errs                          # a type error: decoding reports it
    if length <= 0:
        errs.append(errors.invalid(path + ".queueLengthLimit", length, "must be positive"))
    if queues <= 0:
        errs.append(errors.invalid(path + ".queues", queues, "must be positive"))
    elif queues > MAX_QUEUES:
        errs.append(errors.invalid(path + ".queues", queues, f"must not be greater than {MAX_QUEUES}"))
    if hand <= 0:
        errs.append(errors.invalid(path + ".handSize", hand, "must be positive"))
    elif hand > queues:
        errs.append(errors.invalid(path + ".handSize", hand,
                                   f"should not be greater than queues ({queues})"))
    elif math.ceil(hand * math.log2(queues)) > MAX_HASH_BITS:
        errs.append(errors.invalid(path + ".handSize", hand,
                                   f"required entropy bits of deckSize {queues} and handSize {hand} "
                                   f"should not be greater than {MAX_HASH_BITS}"))
    return errs
