"""BasicAuth (kubernetes/apiserver:plugin/pkg/authenticator/request/basicauth, password/
passwordfile, removed in 1.19) over the ``--basic-auth-file`` users and Django's users."""
from __future__ import annotations

import base64
import dataclasses
import logging

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import Group, User

from apiserver.authentication.base import AuthenticationError
from apiserver.authentication.basic import (BasicAuthenticator, PasswordFile,
                                            basic_credentials, from_options)
from apiserver.authentication.django_users import DjangoUsers
from apiserver.authentication.mechanisms import MECHANISMS, Dependencies, build
from apiserver.options import Options

ONLY_BASIC = [m for m in MECHANISMS if m[0] == "BasicAuth"]
NO_DJANGO = Options(django_user_auth=False)


class CountingHasher(MD5PasswordHasher):
    """A fast hasher that counts how often a password is hashed."""

    algorithm = "counting_md5"
    calls = [0]

    def encode(self, password, salt):
        self.calls[0] += 1
        return super().encode(password, salt)


@pytest.fixture
def hashes(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.calls[0] = 0
    return CountingHasher.calls


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def scope(*authorizations):
    return {"type": "http", "path": "/api",
            "headers": [(b"authorization", a.encode()) for a in authorizations]}


def write(tmp_path, text):
    path = tmp_path / "passwords.csv"
    path.write_text(text)
    return str(path)


# ---- the header ---------------------------------------------------------------------------
def test_credentials_of_a_basic_header():
    assert basic_credentials(scope(basic("alice", "pw"))) == ("alice", "pw")
    assert basic_credentials(scope(basic("alice", "a:b:c"))) == ("alice", "a:b:c")
    assert basic_credentials(scope(basic("alice", ""))) == ("alice", "")
    assert basic_credentials(scope(basic("jörg", "pässword"))) == ("jörg", "pässword")
    lower = "basic " + base64.b64encode(b"alice:pw").decode()
    assert basic_credentials(scope(lower)) == ("alice", "pw")


def test_no_basic_header_is_no_opinion():
    assert basic_credentials(scope()) is None
    assert basic_credentials(scope("Bearer abc")) is None
    assert basic_credentials(scope("Basicabc")) is None


@pytest.mark.parametrize("header", [
    "Basic", "Basic !!!!", "Basic YWxpY2U", "Basic " + base64.b64encode(b"no-colon").decode(),
    "Basic " + base64.b64encode(b"\xff\xfe:x").decode()])
def test_a_malformed_basic_header_is_an_error(header):
    with pytest.raises(AuthenticationError, match="invalid basic auth header"):
        basic_credentials(scope(header))


def test_two_basic_headers_are_an_error():
    with pytest.raises(AuthenticationError):
        basic_credentials(scope(basic("a", "b"), basic("c", "d")))


# ---- the password file --------------------------------------------------------------------
def test_password_file_users(tmp_path):
    users = PasswordFile.from_file(write(tmp_path, 'pw1,alice,uid-1,"dev,qa"\npw2,bob,uid-2\n'))
    user = users.authenticate_password("alice", "pw1")
    assert (user.name, user.uid, user.groups) == ("alice", "uid-1", ("dev", "qa"))
    assert users.authenticate_password("bob", "pw2").groups == ()
    assert users.authenticate_password("alice", "pw2") is None
    assert users.authenticate_password("alice", "pw1 ") is None
    assert users.authenticate_password("carol", "pw1") is None
    assert all(isinstance(mac, bytes) for mac, _ in users._users.values())


def test_password_file_errors_and_duplicates(tmp_path, caplog):
    with pytest.raises(ValueError, match="password file .* line 2: must have at least 3"):
        PasswordFile.from_file(write(tmp_path, "pw1,alice,1\nsecret-pw,bob\n"))
    with caplog.at_level(logging.WARNING, "apiserver.authentication"):
        users = PasswordFile.from_file(write(tmp_path, "old-pw,alice,1\nnew-pw,alice,2\n"))
    assert "duplicate username 'alice'" in caplog.text and "line 2" in caplog.text
    assert "old-pw" not in caplog.text and "new-pw" not in caplog.text
    assert users.authenticate_password("alice", "old-pw") is None
    assert users.authenticate_password("alice", "new-pw").uid == "2"


def test_the_authenticator_over_the_file(tmp_path):
    options = dataclasses.replace(NO_DJANGO, basic_auth_file=write(tmp_path, "pw1,alice,1,dev\n"),
                                  authorization_modes=("AlwaysDeny",))   # anonymous anywhere
    union = build(Dependencies(options=options), ONLY_BASIC)
    user = union.authenticate(scope(basic("alice", "pw1")))
    assert user.groups == ("dev", "system:authenticated")
    for wrong in (basic("alice", "nope"), basic("mallory", "pw1")):
        with pytest.raises(AuthenticationError, match="invalid username/password combination"):
            union.authenticate(scope(wrong))          # 401, never anonymous
    with pytest.raises(AuthenticationError, match="invalid basic auth header"):
        union.authenticate(scope("Basic ???"))
    assert union.authenticate(scope()).name == "system:anonymous"
    # the file alone needs no thread
    assert not union.needs_io(scope(basic("alice", "pw1")))


def test_strip_removes_basic_credentials_only(tmp_path):
    authenticator = BasicAuthenticator([PasswordFile([])])
    s = scope(basic("alice", "pw"))
    authenticator.strip(s)
    assert s["headers"] == []
    s = scope("Bearer token")
    authenticator.strip(s)
    assert s["headers"] == [(b"authorization", b"Bearer token")]


def test_off_without_a_file_or_django_users():
    assert from_options(Dependencies(options=NO_DJANGO)) is None
    assert isinstance(from_options(Dependencies(options=Options())), BasicAuthenticator)


# ---- Django users -------------------------------------------------------------------------
@pytest.fixture
def alice(db, hashes):
    user = User.objects.create_user("alice", password="s3cret")
    user.groups.add(Group.objects.create(name="dev"), Group.objects.create(name="qa"))
    hashes[0] = 0
    return user


@pytest.fixture
def authenticator():
    return from_options(Dependencies(options=Options()))


def test_django_user_with_groups(alice, authenticator):
    s = scope(basic("alice", "s3cret"))
    assert authenticator.needs_io(s) and not authenticator.needs_io(scope())
    user = authenticator.authenticate(s)
    assert (user.name, user.uid, user.groups) == ("alice", str(alice.pk), ("dev", "qa"))


@pytest.mark.parametrize("username,password", [("alice", "wrong"), ("nobody", "s3cret"),
                                               ("ALICE", "s3cret")])
def test_django_wrong_password_or_unknown_user_is_an_error(alice, authenticator, hashes,
                                                           username, password):
    with pytest.raises(AuthenticationError, match="invalid username/password combination"):
        authenticator.authenticate(scope(basic(username, password)))
    assert hashes[0] == 1        # an unknown user costs a hash as well


def test_django_inactive_user_is_refused(alice, authenticator):
    alice.is_active = False
    alice.save()
    with pytest.raises(AuthenticationError):
        authenticator.authenticate(scope(basic("alice", "s3cret")))


def test_a_success_is_remembered_without_hashing_again(alice, authenticator, hashes):
    s = scope(basic("alice", "s3cret"))
    authenticator.authenticate(s)
    authenticator.authenticate(s)
    authenticator.authenticate(s)
    assert hashes[0] == 1
    with pytest.raises(AuthenticationError):   # a failure is never served from the cache
        authenticator.authenticate(scope(basic("alice", "s3cre")))
    assert hashes[0] == 2


def test_the_cache_holds_neither_password_nor_username(alice):
    users = DjangoUsers()
    users.authenticate_password("alice", "s3cret")
    (key, entry), = users._remembered.items()
    assert b"s3cret" not in key and b"alice" not in key and len(key) == 32
    assert "s3cret" not in repr(entry)


def test_a_password_change_takes_effect_at_once(alice, authenticator):
    authenticator.authenticate(scope(basic("alice", "s3cret")))
    alice.set_password("n3w")
    alice.save()
    with pytest.raises(AuthenticationError):
        authenticator.authenticate(scope(basic("alice", "s3cret")))
    assert authenticator.authenticate(scope(basic("alice", "n3w"))).name == "alice"


def test_deactivation_deletion_and_renaming_take_effect_at_once(alice, authenticator):
    s = scope(basic("alice", "s3cret"))
    authenticator.authenticate(s)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    with pytest.raises(AuthenticationError):
        authenticator.authenticate(s)
    User.objects.filter(pk=alice.pk).update(is_active=True)
    authenticator.authenticate(s)
    User.objects.filter(pk=alice.pk).update(username="alicia")
    with pytest.raises(AuthenticationError):
        authenticator.authenticate(s)
    assert authenticator.authenticate(scope(basic("alicia", "s3cret"))).name == "alicia"
    User.objects.filter(pk=alice.pk).delete()
    with pytest.raises(AuthenticationError):
        authenticator.authenticate(scope(basic("alicia", "s3cret")))


def test_group_changes_are_seen_on_a_cached_success(alice, authenticator, hashes):
    s = scope(basic("alice", "s3cret"))
    assert authenticator.authenticate(s).groups == ("dev", "qa")
    alice.groups.remove(Group.objects.get(name="qa"))
    alice.groups.add(Group.objects.create(name="ops"))
    assert authenticator.authenticate(s).groups == ("dev", "ops")
    assert hashes[0] == 1


def test_a_remembered_success_expires(alice, hashes):
    now = [100.0]
    users = DjangoUsers(ttl=10, clock=lambda: now[0])
    users.authenticate_password("alice", "s3cret")
    now[0] += 9
    users.authenticate_password("alice", "s3cret")
    assert hashes[0] == 1
    now[0] += 2
    users.authenticate_password("alice", "s3cret")
    assert hashes[0] == 2
    zero = DjangoUsers(ttl=0)
    zero.authenticate_password("alice", "s3cret")
    assert not zero._remembered


def test_the_cache_is_bounded(db, hashes):
    for name in ("u1", "u2", "u3"):
        User.objects.create_user(name, password="pw")
    users = DjangoUsers(max_entries=2)
    for name in ("u1", "u2", "u3"):
        assert users.authenticate_password(name, "pw").name == name
    assert len(users._remembered) == 2


def test_file_users_come_first_then_django_users(alice, tmp_path):
    options = Options(basic_auth_file=write(tmp_path, "filepw,alice,file-uid,file-group\n"))
    authenticator = from_options(Dependencies(options=options))
    assert authenticator.authenticate(scope(basic("alice", "filepw"))).uid == "file-uid"
    assert authenticator.authenticate(scope(basic("alice", "s3cret"))).uid == str(alice.pk)


def test_django_users_off_by_flag(alice, tmp_path):
    options = dataclasses.replace(NO_DJANGO, basic_auth_file=write(tmp_path, "pw,bob,1\n"))
    authenticator = from_options(Dependencies(options=options))
    with pytest.raises(AuthenticationError):
        authenticator.authenticate(scope(basic("alice", "s3cret")))
