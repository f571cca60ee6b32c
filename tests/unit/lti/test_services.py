"""Access tokens for LTI Advantage services (Security Framework §4.1), the platform mocked by responses.

The cache is the real Flask-Caching ``FileSystemCache`` the app uses; only the platform is mocked.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs

import jwt
import pytest
import requests
import responses
from flask import Flask
from flask_caching import Cache
from jwt.algorithms import RSAAlgorithm

from lti import keys
from lti.services import (
    CLIENT_ASSERTION_TYPE,
    EXPIRY_MARGIN_SECONDS,
    AccessTokenClient,
    AccessTokenError,
    ServiceEndpoint,
    access_tokens_for,
    cache_key,
    next_page_url,
)

TOKEN_URL = "https://lms.example/login/oauth2/token"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
PEM = keys.generate_rsa_pem()
PUBLIC = keys.public_jwk_of(PEM)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cache(tmp_path):
    app = Flask(__name__)
    return Cache(
        app, config={"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": str(tmp_path / "cache")}
    )


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def client(cache, clock):
    return AccessTokenClient(cache, lambda: (PUBLIC["kid"], PEM), timeout=3.5, clock=clock)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as mock:
        yield mock


def grant(mocked, token="tok-1", expires_in=3600, url=TOKEN_URL, status=200, **extra):  # noqa: S107 - a test token
    body = {"access_token": token, "token_type": "Bearer", "expires_in": expires_in} | extra
    mocked.add(responses.POST, url, json=body, status=status)


def form_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def decoded(assertion: str, audience: str = TOKEN_URL) -> dict:
    key = RSAAlgorithm.from_jwk(PUBLIC)
    return jwt.decode(assertion, key, algorithms=["RS256"], audience=audience)


PLATFORM = ServiceEndpoint("client-1", TOKEN_URL)


def test_token_is_granted_for_a_signed_client_assertion_when_fetched(client, mocked, clock):
    grant(mocked)
    assert client.token(PLATFORM, (SCORE, LINEITEM, SCORE)) == "tok-1"
    (call,) = mocked.calls
    form = form_of(call)
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert form["scope"] == f"{LINEITEM} {SCORE}"
    assert jwt.get_unverified_header(form["client_assertion"]) == {
        "alg": "RS256",
        "kid": PUBLIC["kid"],
        "typ": "JWT",
    }
    claims = decoded(form["client_assertion"])
    assert claims["iss"] == claims["sub"] == "client-1"
    assert claims["iat"] <= clock.now < claims["exp"] <= clock.now + 600
    assert claims["jti"]
    assert call.request.req_kwargs["timeout"] == 3.5
    assert call.request.headers["Accept"] == "application/json"


def test_assertion_names_the_audience_when_the_registration_has_one(client, mocked):
    grant(mocked)
    client.token(ServiceEndpoint("client-1", TOKEN_URL, "https://lms.example/aud"), (SCORE,))
    claims = decoded(form_of(mocked.calls[0])["client_assertion"], "https://lms.example/aud")
    assert claims["aud"] == "https://lms.example/aud"


def test_each_assertion_has_its_own_jti_when_tokens_are_fetched_twice(client, mocked):
    grant(mocked)
    grant(mocked, token="tok-2")
    client.token(PLATFORM, (SCORE,))
    client.token(PLATFORM, (LINEITEM,))
    first, second = (decoded(form_of(c)["client_assertion"])["jti"] for c in mocked.calls)
    assert first != second


def test_token_comes_from_the_cache_when_asked_again(client, mocked):
    grant(mocked)
    assert client.token(PLATFORM, (SCORE, LINEITEM)) == "tok-1"
    assert client.token(PLATFORM, (LINEITEM, SCORE)) == "tok-1"  # same set, another order
    assert len(mocked.calls) == 1


def test_tokens_are_not_shared_when_registrations_share_issuer_and_token_url(client, mocked):
    """Canvas cloud: one issuer and one token URL for every school, one client_id each."""
    grant(mocked, token="school-a")
    grant(mocked, token="school-b")
    assert client.token(ServiceEndpoint("client-a", TOKEN_URL), (SCORE,)) == "school-a"
    assert client.token(ServiceEndpoint("client-b", TOKEN_URL), (SCORE,)) == "school-b"
    assert client.token(ServiceEndpoint("client-a", TOKEN_URL), (SCORE,)) == "school-a"
    assert len(mocked.calls) == 2


def test_scope_sets_get_their_own_tokens_when_they_differ(client, mocked):
    grant(mocked, token="score-only")
    grant(mocked, token="score-and-lineitem")
    assert client.token(PLATFORM, (SCORE,)) == "score-only"
    assert client.token(PLATFORM, (SCORE, LINEITEM)) == "score-and-lineitem"


def test_new_token_is_fetched_when_the_cached_one_nears_expiry(client, mocked, clock):
    grant(mocked, expires_in=3600)
    grant(mocked, token="tok-2")
    client.token(PLATFORM, (SCORE,))
    clock.now += 3600 - EXPIRY_MARGIN_SECONDS - 1
    assert client.token(PLATFORM, (SCORE,)) == "tok-1"
    clock.now += 2
    assert client.token(PLATFORM, (SCORE,)) == "tok-2"


def test_token_is_not_cached_when_it_expires_within_the_margin(client, mocked, cache):
    grant(mocked, expires_in=EXPIRY_MARGIN_SECONDS)
    grant(mocked, token="tok-2", expires_in=EXPIRY_MARGIN_SECONDS)
    assert client.token(PLATFORM, (SCORE,)) == "tok-1"
    assert cache.get(cache_key(PLATFORM, (SCORE,))) is None
    assert client.token(PLATFORM, (SCORE,)) == "tok-2"


def test_token_is_cached_briefly_when_the_platform_omits_expires_in(client, mocked, clock):
    mocked.add(responses.POST, TOKEN_URL, json={"access_token": "tok-1", "token_type": "bearer"})
    grant(mocked, token="tok-2")
    client.token(PLATFORM, (SCORE,))
    clock.now += 200
    assert client.token(PLATFORM, (SCORE,)) == "tok-1"
    clock.now += 100
    assert client.token(PLATFORM, (SCORE,)) == "tok-2"


def test_forgotten_token_is_fetched_anew_when_asked_again(client, mocked):
    grant(mocked)
    grant(mocked, token="tok-2")
    client.token(PLATFORM, (SCORE, LINEITEM))
    client.forget(PLATFORM, (LINEITEM, SCORE))
    assert client.token(PLATFORM, (SCORE, LINEITEM)) == "tok-2"


def test_refusal_carries_status_and_oauth_error_but_no_secret_when_platform_says_no(
    client, mocked, caplog
):
    caplog.set_level(logging.DEBUG)
    mocked.add(
        responses.POST,
        TOKEN_URL,
        status=401,
        json={"error": "invalid_client", "error_description": "unknown kid"},
    )
    with pytest.raises(AccessTokenError) as caught:
        client.token(PLATFORM, (SCORE,))
    error = caught.value
    assert error.status == 401 and error.code == "lti_token_refused" and not error.permanent
    assert error.details["error"] == "invalid_client"
    assertion = form_of(mocked.calls[0])["client_assertion"]
    said = error.message + str(error.details) + caplog.text
    assert "HTTP 401" in error.message
    assert assertion not in said and assertion.split(".")[2] not in said


def test_oauth_error_is_dropped_when_it_is_not_an_error_code(client, mocked):
    mocked.add(responses.POST, TOKEN_URL, status=400, json={"error": 'bad <b>thing</b>"x"'})
    with pytest.raises(AccessTokenError) as caught:
        client.token(PLATFORM, (SCORE,))
    assert caught.value.details["error"] == ""


def test_retry_after_is_kept_when_the_token_endpoint_throttles(client, mocked):
    mocked.add(responses.POST, TOKEN_URL, status=429, headers={"Retry-After": "30"})
    with pytest.raises(AccessTokenError) as caught:
        client.token(PLATFORM, (SCORE,))
    assert caught.value.status == 429 and caught.value.retry_after == 30.0


@pytest.mark.parametrize(
    "body",
    [
        "<html>not json</html>",
        '{"token_type": "bearer"}',
        '{"access_token": "", "token_type": "bearer"}',
        '{"access_token": "t", "token_type": "mac"}',
        '["a list"]',
    ],
)
def test_invalid_token_answer_is_an_error_when_platform_answers_200(client, mocked, body):
    mocked.add(responses.POST, TOKEN_URL, body=body, status=200)
    with pytest.raises(AccessTokenError) as caught:
        client.token(PLATFORM, (SCORE,))
    assert caught.value.code == "lti_token_invalid"


def test_redirect_is_not_followed_when_the_token_endpoint_redirects(client, mocked):
    mocked.add(
        responses.POST, TOKEN_URL, status=302, headers={"Location": "https://elsewhere.example/t"}
    )
    with pytest.raises(AccessTokenError) as caught:
        client.token(PLATFORM, (SCORE,))
    assert caught.value.status == 302
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    "failure", [requests.ConnectTimeout("slow"), requests.ConnectionError("refused")]
)
def test_unreachable_endpoint_is_an_error_when_the_request_fails(client, mocked, failure):
    mocked.add(responses.POST, TOKEN_URL, body=failure)
    with pytest.raises(AccessTokenError) as caught:
        client.token(PLATFORM, (SCORE,))
    assert caught.value.code == "lti_token_unreachable" and caught.value.status is None


def test_missing_token_url_is_a_permanent_error_when_registration_lacks_it(client, mocked):
    with pytest.raises(AccessTokenError) as caught:
        client.token(ServiceEndpoint("client-1", ""), (SCORE,))
    assert caught.value.permanent and caught.value.code == "lti_token_url_missing"


def test_no_scope_is_an_error_when_none_asked(client):
    with pytest.raises(AccessTokenError):
        client.token(PLATFORM, ("", " "))


def test_app_client_signs_with_the_tool_key_and_shares_the_app_cache(app, mocked):
    grant(mocked)
    first, second = access_tokens_for(app), access_tokens_for(app)
    assert first.token(PLATFORM, (SCORE,)) == "tok-1"
    assert second.token(PLATFORM, (SCORE,)) == "tok-1"  # another client (a worker): same cache
    assertion = form_of(mocked.calls[0])["client_assertion"]
    rt = app.extensions["bridge.runtime"]
    with rt.database.transaction() as session:
        kid, _ = keys.signing_key(session, rt.box)
        public = next(k for k in keys.jwks(session)["keys"] if k["kid"] == kid)
    assert jwt.get_unverified_header(assertion)["kid"] == kid
    jwt.decode(assertion, RSAAlgorithm.from_jwk(public), algorithms=["RS256"], audience=TOKEN_URL)


def test_next_page_is_resolved_when_the_link_is_relative():
    response = requests.Response()
    response.headers["Link"] = '</m?page=2>; rel="next", </m?page=9>; rel="last"'
    assert next_page_url(response, "https://lms.example/m?page=1") == "https://lms.example/m?page=2"


def test_next_page_is_refused_when_it_is_on_another_origin():
    response = requests.Response()
    response.headers["Link"] = '<https://evil.example/m?page=2>; rel="next"'
    with pytest.raises(ValueError, match="another origin"):
        next_page_url(response, "https://lms.example/m")


def test_no_next_page_when_the_link_header_has_none():
    response = requests.Response()
    response.headers["Link"] = '<https://lms.example/m?page=1>; rel="first"'
    assert next_page_url(response, "https://lms.example/m") == ""
