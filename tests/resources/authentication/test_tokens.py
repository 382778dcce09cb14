"""Bound service-account JWTs (``apiserver.authentication.serviceaccount_tokens``): claims
as kubernetes/kubernetes:pkg/serviceaccount/claims.go builds them, RS256 over the SA key,
upstream's key id (kubernetes/kubernetes:pkg/serviceaccount/jwt.go)."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from apiserver.authentication import serviceaccount_tokens as tokens

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SA = {"metadata": {"name": "build", "namespace": "ci", "uid": "sa-uid"}}
ISS = "https://kubernetes.default.svc.cluster.local"


def part(token: str, index: int) -> dict:
    seg = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def test_claims_of_a_bound_token():
    claims = tokens.bound_claims(ISS, SA, ["api"], 600, now=1000)
    assert claims.pop("jti")
    assert claims == {"aud": ["api"], "exp": 1600, "iat": 1000, "nbf": 1000, "iss": ISS,
                      "sub": "system:serviceaccount:ci:build",
                      "kubernetes.io": {"namespace": "ci",
                                        "serviceaccount": {"name": "build", "uid": "sa-uid"}}}


def test_pod_and_node_claims():
    pod = {"metadata": {"name": "p", "uid": "pod-uid"}}
    node = {"metadata": {"name": "n1", "uid": "node-uid"}}
    claims = tokens.bound_claims(ISS, SA, ["api"], 600, pod=pod, node=node)
    assert claims["kubernetes.io"]["pod"] == {"name": "p", "uid": "pod-uid"}
    assert claims["kubernetes.io"]["node"] == {"name": "n1", "uid": "node-uid"}
    assert "secret" not in claims["kubernetes.io"]


def test_sign_header_and_sorted_claims():
    token = tokens.sign(tokens.bound_claims(ISS, SA, ["api"], 600), KEY)
    header = part(token, 0)
    der = KEY.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert header == {"alg": "RS256", "kid": kid}
    assert "=" not in token
    assert list(part(token, 1)) == sorted(part(token, 1))


def test_verify_round_trip_and_failures():
    claims = tokens.bound_claims(ISS, SA, ["api", "other"], 600, now=10_000)
    token = tokens.sign(claims, KEY)
    assert tokens.verify(token, KEY.public_key(), issuer=ISS, audiences=["other"],
                         now=10_100) == claims
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(token, KEY.public_key(), now=10_000 + 600 + 61)
    with pytest.raises(tokens.InvalidToken, match="audiences"):
        tokens.verify(token, KEY.public_key(), audiences=["nope"], now=10_100)
    with pytest.raises(tokens.InvalidToken, match="issuer"):
        tokens.verify(token, KEY.public_key(), issuer="https://elsewhere", now=10_100)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(tokens.InvalidToken, match="signature"):
        tokens.verify(token, other.public_key(), now=10_100)
    head, body, sig = token.split(".")
    forged = tokens.b64url(json.dumps({**claims, "sub": "system:admin"}).encode())
    with pytest.raises(tokens.InvalidToken, match="signature"):
        tokens.verify(f"{head}.{forged}.{sig}", KEY.public_key(), now=10_100)
    with pytest.raises(tokens.InvalidToken, match="three"):
        tokens.verify("a.b", KEY.public_key())


def test_key_file_is_loaded_and_reloaded_on_change(tmp_path):
    path = tmp_path / "sa.key"
    path.write_bytes(KEY.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    issuer = tokens.Issuer(str(path), "https://i")
    first = issuer.private_key
    assert issuer.private_key is first                      # read once while unchanged
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(other.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert issuer.private_key.public_key().public_numbers() == other.public_key().public_numbers()
    with pytest.raises(FileNotFoundError):
        tokens.Issuer(str(tmp_path / "missing.key"), "https://i").private_key


def test_identity_helpers():
    assert tokens.username("ns", "sa") == "system:serviceaccount:ns:sa"
    assert tokens.groups("ns") == ("system:serviceaccounts", "system:serviceaccounts:ns")
