"""Static tokens of ``--token-auth-file`` (kubernetes/apiserver:plugin/pkg/authenticator/
token/tokenfile/tokenfile.go) and the CSV users files they share with BasicAuth."""
from __future__ import annotations

import logging

import pytest

from apiserver.authentication.base import AuthenticationError
from apiserver.authentication.csvfile import read_records
from apiserver.authentication.mechanisms import MECHANISMS, Dependencies, build
from apiserver.authentication.token_file import TokenFileAuthenticator, from_options
from apiserver.options import Options

ONLY_TOKENS = [m for m in MECHANISMS if m[0] == "TokenFile"]


def write(tmp_path, text, name="tokens.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def scope(headers=()):
    return {"type": "http", "path": "/api",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}


def user_of(authenticator, token):
    response = authenticator.authenticate_token(token, ())
    return None if response is None else response.user


# ---- the CSV file -------------------------------------------------------------------------
def test_records_with_quoted_groups_and_three_columns(tmp_path):
    path = write(tmp_path, 'tok1,alice,uid-1,"dev,qa"\n'
                           "tok2,bob,uid-2\n"
                           "\n"
                           'tok3,carol,uid-3,ops,ignored-fifth\n'
                           'tok4,dave,uid-4,""\n')
    records = read_records(path, "token file", "token")
    assert [(r.secret, r.name, r.uid, r.groups, r.line) for r in records] == [
        ("tok1", "alice", "uid-1", ("dev", "qa"), 1),
        ("tok2", "bob", "uid-2", (), 2),
        ("tok3", "carol", "uid-3", ("ops",), 4),
        ("tok4", "dave", "uid-4", (), 5),
    ]


def test_a_short_record_names_the_file_and_line_not_the_secret(tmp_path):
    path = write(tmp_path, "tok1,alice,uid-1\nsecret-tok,bob\n")
    with pytest.raises(ValueError) as info:
        TokenFileAuthenticator.from_file(path)
    message = str(info.value)
    assert path in message and "line 2" in message and "at least 3 columns" in message
    assert "found 2" in message and "secret-tok" not in message


def test_malformed_csv_and_missing_file_are_errors(tmp_path):
    path = write(tmp_path, 'tok1,alice,uid-1\n"tok2"x,bob,uid\n')
    with pytest.raises(ValueError, match="line 2"):
        TokenFileAuthenticator.from_file(path)
    with pytest.raises(ValueError, match="absent.csv"):
        TokenFileAuthenticator.from_file(str(tmp_path / "absent.csv"))


def test_blank_tokens_are_skipped_with_a_warning(tmp_path, caplog):
    path = write(tmp_path, ",nobody,uid-0\ntok1,alice,uid-1\n")
    with caplog.at_level(logging.WARNING, "apiserver.authentication"):
        authenticator = TokenFileAuthenticator.from_file(path)
    assert len(authenticator) == 1
    assert "empty token" in caplog.text and "line 1" in caplog.text
    assert user_of(authenticator, "") is None
    assert user_of(authenticator, "tok1").name == "alice"


def test_a_duplicate_token_is_warned_about_and_the_later_record_wins(tmp_path, caplog):
    path = write(tmp_path, "dup-secret,alice,uid-1\ndup-secret,bob,uid-2\n")
    with caplog.at_level(logging.WARNING, "apiserver.authentication"):
        authenticator = TokenFileAuthenticator.from_file(path)
    assert "duplicate token" in caplog.text and "line 2" in caplog.text
    assert "dup-secret" not in caplog.text
    assert user_of(authenticator, "dup-secret").name == "bob"


# ---- lookups ------------------------------------------------------------------------------
def test_the_right_token_is_its_user_and_others_are_not_mine(tmp_path):
    authenticator = TokenFileAuthenticator.from_file(
        write(tmp_path, 'abcdef0123456789,alice,uid-1,"dev,qa"\n'))
    user = user_of(authenticator, "abcdef0123456789")
    assert (user.name, user.uid, user.groups) == ("alice", "uid-1", ("dev", "qa"))
    for wrong in ("abcdef012345678", "abcdef0123456789x", "ABCDEF0123456789", "alice", ""):
        assert user_of(authenticator, wrong) is None


def test_tokens_are_not_kept_and_each_answer_is_a_fresh_user(tmp_path):
    authenticator = TokenFileAuthenticator.from_file(write(tmp_path, "kept-secret,alice,1\n"))
    assert all(isinstance(k, bytes) and len(k) == 32 for k in authenticator._users)
    first = user_of(authenticator, "kept-secret")
    first.extra["x"] = ["y"]
    assert user_of(authenticator, "kept-secret").extra == {}


# ---- the flags ----------------------------------------------------------------------------
def test_off_without_the_flag():
    assert from_options(Dependencies(options=Options())) is None


def test_bearer_tokens_of_the_file_through_the_union(tmp_path):
    path = write(tmp_path, 'tok-1,alice,uid-1,"dev"\n')
    union = build(Dependencies(options=Options(token_auth_file=path, anonymous_auth=True),
                               api_audiences=("api",)), ONLY_TOKENS)
    user = union.authenticate(scope([("Authorization", "Bearer tok-1")]))
    assert (user.name, user.uid, user.groups) == ("alice", "uid-1",
                                                 ("dev", "system:authenticated"))
    with pytest.raises(AuthenticationError, match="invalid bearer token"):
        union.authenticate(scope([("Authorization", "Bearer tok-2")]))


def test_a_bad_file_stops_the_build(tmp_path):
    path = write(tmp_path, "only-one-column\n")
    with pytest.raises(ValueError, match="line 1"):
        build(Dependencies(options=Options(token_auth_file=path)), ONLY_TOKENS)
