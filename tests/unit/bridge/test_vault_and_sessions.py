"""At-rest encryption of secrets and the signed widget session tokens."""

from __future__ import annotations

import time
import uuid

import pytest
from itsdangerous import URLSafeTimedSerializer

from bridge import sessions
from bridge.errors import UnauthorizedError
from bridge.sessions import SALT, SessionTokens
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


SECRET = "s" * 48


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


class Clock:
    """Stands in for the ``time`` module that ``bridge.sessions`` reads the current time from."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock(time.time())
    monkeypatch.setattr("bridge.sessions.time", fake)
    return fake


def issued_and_verified(tokens: SessionTokens, clock: Clock) -> tuple[str, float]:
    """Issue a token, set the clock to its issue second and verify it once (filling the cache)."""
    token = tokens.issue(make_scope())
    _, issued = URLSafeTimedSerializer(SECRET, salt=SALT).loads(token, return_timestamp=True)
    clock.now = issued.timestamp()
    assert tokens.verify(token).issued_at == clock.now
    return token, clock.now


def test_cached_session_token_is_refused_when_it_has_expired_since(clock):
    tokens = SessionTokens(SECRET, lifetime_seconds=60)
    token, issued_at = issued_and_verified(tokens, clock)
    clock.now = issued_at + 60.9  # ages count whole seconds, as in itsdangerous: 60 is not > 60
    assert tokens.verify(token).issued_at == issued_at
    clock.now = issued_at + 61
    with pytest.raises(UnauthorizedError) as caught:
        tokens.verify(token)
    assert caught.value.code == "session_expired"
    assert tokens._decode.cache_info().hits >= 2  # the refusal came from the cached entry


def test_cached_session_token_is_refused_when_its_lifetime_is_shortened(clock):
    tokens = SessionTokens(SECRET, lifetime_seconds=60)
    token, issued_at = issued_and_verified(tokens, clock)
    clock.now = issued_at + 5
    tokens.lifetime_seconds = 2
    with pytest.raises(UnauthorizedError) as caught:
        tokens.verify(token)
    assert caught.value.code == "session_expired"


def test_session_token_is_refused_when_it_was_issued_in_the_future(clock):
    tokens = SessionTokens(SECRET, lifetime_seconds=60)
    token, issued_at = issued_and_verified(tokens, clock)
    clock.now = issued_at - 1  # itsdangerous: "Signature age -1 < 0 seconds", SignatureExpired
    with pytest.raises(UnauthorizedError) as caught:
        tokens.verify(token)
    assert caught.value.code == "session_expired"


def test_tampered_session_token_is_refused_when_the_original_is_cached(clock):
    tokens = SessionTokens(SECRET, lifetime_seconds=60)
    token, _ = issued_and_verified(tokens, clock)
    payload, stamp, signature = token.rsplit(".", 2)  # a compressed payload starts with "."
    other = tokens.issue(make_scope()).rsplit(".", 2)[0]
    flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    for tampered in (f"{other}.{stamp}.{signature}", f"{payload}.{stamp}.{flipped}", token + "x"):
        with pytest.raises(UnauthorizedError) as caught:
            tokens.verify(tampered)
        assert caught.value.code == "session_invalid"
    assert tokens._decode.cache_info().currsize == 1  # refusals are not remembered


def test_cached_session_token_returns_an_equal_scope_when_verified_again():
    tokens = SessionTokens(SECRET, lifetime_seconds=60)
    scope = make_scope(Access.MODERATOR)
    token = tokens.issue(scope)
    first, second = tokens.verify(token), tokens.verify(token)
    assert first == second and second.scope == scope
    assert tokens._decode.cache_info().hits == 1


def test_session_token_cache_is_bounded_when_many_tokens_are_verified(monkeypatch):
    monkeypatch.setattr(sessions, "VERIFIED_CACHE_SIZE", 4)
    tokens = SessionTokens(SECRET, lifetime_seconds=60)
    issued = [tokens.issue(make_scope()) for _ in range(10)]
    for token in issued:
        tokens.verify(token)
    assert tokens._decode.cache_info().currsize == 4
    assert tokens.verify(issued[0]).scope.user_id  # evicted, so checked again from scratch
    assert sessions.SessionTokens(SECRET, 60)._decode.cache_info().maxsize == 4
