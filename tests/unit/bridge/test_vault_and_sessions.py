"""At-rest encryption of secrets and the signed widget session tokens."""

from __future__ import annotations

import uuid

import pytest

from bridge.errors import UnauthorizedError
from bridge.sessions import SessionTokens
from bridge.tenancy.rules import Access
from bridge.tenancy.scope import Scope
from bridge.vault import SecretBox, SecretBoxError


def test_secret_box_round_trips_and_hides_the_plaintext():
    box = SecretBox("a" * 40)
    sealed = box.encrypt("-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE" not in sealed
    assert box.decrypt(sealed) == "-----BEGIN PRIVATE KEY-----"


def test_secret_box_refuses_ciphertext_from_another_app_secret():
    sealed = SecretBox("a" * 40).encrypt("x")
    with pytest.raises(SecretBoxError):
        SecretBox("b" * 40).decrypt(sealed)


def make_scope(access: Access = Access.PARTICIPANT) -> Scope:
    return Scope(*(uuid.uuid4() for _ in range(6)), access=access, is_admin=True)


def test_session_token_round_trips_its_scope():
    tokens = SessionTokens("s" * 48, lifetime_seconds=60)
    scope = make_scope(Access.MODERATOR)
    verified = tokens.verify(tokens.issue(scope))
    assert verified.scope == scope


def test_session_token_from_another_secret_is_refused():
    token = SessionTokens("s" * 48, 60).issue(make_scope())
    with pytest.raises(UnauthorizedError) as caught:
        SessionTokens("t" * 48, 60).verify(token)
    assert caught.value.code == "session_invalid"


def test_session_token_carries_no_personal_data():
    token = SessionTokens("s" * 48, 60).issue(make_scope())
    assert "@" not in token and len(token) < 400
