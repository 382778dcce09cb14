"""CEL in ``--authentication-config`` JWT issuers: claim mappings, claim validation rules and
user validation rules (kubernetes/apiserver:pkg/apis/apiserver/types.go ``ClaimMappings``,
``ClaimValidationRule``, ``UserValidationRule``; evaluated as
plugin/pkg/authenticator/token/oidc/oidc.go does, over ``claims`` and ``user``).

Expressions are compiled when the configuration is read (a syntax error stops the start) and
evaluated with cel-python, a maintained pure-Python CEL implementation: what it cannot
evaluate is an error of the token, never a silent pass.

May import: apiserver.authentication, celpy.
"""
from __future__ import annotations

import celpy

from apiserver.authentication.base import AuthenticationError

ENVIRONMENT = celpy.Environment()


class Expression:
    """One compiled expression and where it came from (for messages)."""

    def __init__(self, text: str, where: str):
        self.text = text
        self.where = where
        try:
            self.program = ENVIRONMENT.program(ENVIRONMENT.compile(text))
        except Exception as exc:   # CELParseError and friends: a configuration error
            raise ValueError(f"{where}: Invalid value: {text!r}: compilation failed: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                             ) from None

    def evaluate(self, **variables):
        try:
            result = self.program.evaluate({k: celpy.json_to_cel(v) for k, v in variables.items()})
        except Exception as exc:
            raise AuthenticationError(f"oidc: error evaluating {self.where}: "
                                      f"{type(exc).__name__}") from None
        if isinstance(result, Exception):   # CEL errors come back as values
            raise AuthenticationError(f"oidc: error evaluating {self.where}: {result}")
        return result


def as_string(value, where: str) -> str:
    if isinstance(value, str):
        return str(value)
    raise AuthenticationError(f"oidc: error evaluating {where}: expression must return a "
                              f"string")


def as_strings(value, where: str) -> list[str]:
    if isinstance(value, str):
        return [str(value)]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise AuthenticationError(f"oidc: error evaluating {where}: expression must return a "
                              f"string or a list of strings")


def check(rules, message_default: str, **variables) -> None:
    """Every (Expression, message) in ``rules`` must be true for ``variables``."""
    for expression, message in rules:
        result = expression.evaluate(**variables)
        if not isinstance(result, (bool, celpy.celtypes.BoolType)) or not result:
            raise AuthenticationError(f"oidc: {message or message_default + expression.text}")
