"""Dynamic Registration's HTTP client and documents (LTI DR 1.0 §3), the platform mocked by responses."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from pylti1p3.dynamic_registration import DynamicRegistration

from bridge.widgets import WidgetCatalogue, WidgetSpec
from lti.dynamic_registration.client import (
    PLATFORM_CONFIGURATION,
    TOOL_CONFIGURATION,
    PlatformClient,
    PlatformConfiguration,
    RegistrationError,
    origin,
    origin_key,
)
from lti.dynamic_registration.invitations import hash_token, registration_url
from lti.tool_document import SCOPES, tool_configuration

LMS = "https://lms.example.edu"
CONFIG_URL = LMS + "/lti/openid-configuration?client=1"
CATALOGUE = WidgetCatalogue((WidgetSpec("discussion", "D", ""),), default="discussion")


def platform_configuration(**changes):
    document = {
        "issuer": LMS,
        "authorization_endpoint": LMS + "/lti/auth",
        "token_endpoint": LMS + "/lti/token",
        "jwks_uri": LMS + "/lti/certs",
        "registration_endpoint": LMS + "/lti/register",
        "authorization_server": LMS + "/lti/token-audience",
        PLATFORM_CONFIGURATION: {"product_family_code": "moodle", "version": "4.5"},
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


def error_of(call):
    with pytest.raises(RegistrationError) as caught:
        call()
    return caught.value


@pytest.fixture
def client():
    return PlatformClient(timeout=3.5)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as mock:
        yield mock


# -- origins ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ("https://lms.example.edu", "https://LMS.example.edu:443/x/y?z=1", True),
        ("https://lms.example.edu/moodle", "https://lms.example.edu/other", True),
        ("http://lms.example.edu", "http://lms.example.edu:80/", True),
        ("https://lms.example.edu", "http://lms.example.edu", False),
        ("https://lms.example.edu", "https://lms.example.edu:8443", False),
        ("https://lms.example.edu", "https://evil.example.edu", False),
        ("https://lms.example.edu", "https://lms.example.edu.evil.test", False),
    ],
)
def test_origins_compare_scheme_host_and_port(left, right, same):
    assert (origin_key(left) == origin_key(right)) is same


@pytest.mark.parametrize(
    "url",
    [
        "",
        "lms.example.edu",
        "ftp://lms.example.edu",
        "https://x:bad",
        "https://user:pw@lms.example.edu",
        "https://x;script-src *@lms.example.edu",
        "https://lms.example.edu;script-src",
        "https://lms example.edu",
    ],
)
def test_origin_of_a_non_http_or_unsafe_url_is_none(url):
    assert origin_key(url) is None and origin(url) == ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://LMS.Example.edu:443/moodle?x=1", "https://lms.example.edu"),
        ("http://127.0.0.1:8080/platform", "http://127.0.0.1:8080"),
        ("https://[::1]:8443/", "https://[::1]:8443"),
    ],
)
def test_origin_is_canonical(url, expected):
    assert origin(url) == expected


def test_configuration_is_refused_when_issuer_has_a_query(client, mocked):
    mocked.get(CONFIG_URL, json=platform_configuration(issuer=LMS + "/?tenant=1"))
    error = error_of(lambda: client.fetch_configuration(CONFIG_URL))
    assert (error.code, error.http_status) == ("registration_configuration_invalid", 502)


# -- step 2: the platform's OpenID configuration ------------------------------------------------
def test_configuration_is_read_when_platform_answers(client, mocked):
    mocked.get(CONFIG_URL, json=platform_configuration())
    configuration = client.fetch_configuration(CONFIG_URL, "reg-token")
    assert configuration == PlatformConfiguration(
        issuer=LMS,
        authorization_endpoint=LMS + "/lti/auth",
        token_endpoint=LMS + "/lti/token",
        jwks_uri=LMS + "/lti/certs",
        registration_endpoint=LMS + "/lti/register",
        authorization_server=LMS + "/lti/token-audience",
        product_family_code="moodle",
    )
    assert configuration.name == "lms.example.edu (moodle)"
    request = mocked.calls[0].request
    assert request.headers["Authorization"] == "Bearer reg-token"
    assert request.req_kwargs["timeout"] == 3.5


def test_no_bearer_is_sent_when_platform_gave_no_registration_token(client, mocked):
    mocked.get(CONFIG_URL, json=platform_configuration())
    client.fetch_configuration(CONFIG_URL, "")
    assert "Authorization" not in mocked.calls[0].request.headers


@pytest.mark.parametrize(
    "issuer",
    [
        "https://other.example.edu",
        "http://lms.example.edu",
        "https://lms.example.edu:8443",
        "https://lms.example.edu.evil.test",
        "not a url",
    ],
)
def test_configuration_is_refused_when_issuer_is_not_at_its_origin(client, mocked, issuer):
    mocked.get(CONFIG_URL, json=platform_configuration(issuer=issuer))
    error = error_of(lambda: client.fetch_configuration(CONFIG_URL))
    assert (error.code, error.http_status) == ("registration_issuer_mismatch", 400)


def test_issuer_with_a_path_is_accepted_when_its_origin_matches(client, mocked):
    mocked.get(CONFIG_URL, json=platform_configuration(issuer=LMS + "/moodle"))
    assert client.fetch_configuration(CONFIG_URL).issuer == LMS + "/moodle"


@pytest.mark.parametrize(
    "missing",
    ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"],
)
def test_configuration_is_refused_when_a_required_field_is_missing(client, mocked, missing):
    mocked.get(CONFIG_URL, json=platform_configuration(**{missing: None}))
    error = error_of(lambda: client.fetch_configuration(CONFIG_URL))
    assert (error.code, error.http_status) == ("registration_configuration_invalid", 502)
    assert missing in error.details["missing"]


def test_configuration_is_refused_when_an_endpoint_is_plain_http(client, mocked):
    mocked.get(CONFIG_URL, json=platform_configuration(jwks_uri="http://lms.example.edu/certs"))
    error = error_of(lambda: client.fetch_configuration(CONFIG_URL))
    assert error.code == "registration_configuration_invalid" and "jwks_uri" in error.details


@pytest.mark.parametrize(
    ("answer", "code", "status"),
    [
        ({"body": "<html>not json</html>"}, "registration_configuration_invalid", 502),
        ({"json": ["a", "list"]}, "registration_configuration_invalid", 502),
        ({"json": {}, "status": 404}, "registration_configuration_unavailable", 502),
        ({"json": {}, "status": 302, "headers": {"Location": "https://evil.test/c"}}, "registration_configuration_unavailable", 502),
        ({"body": requests.ConnectTimeout()}, "registration_configuration_unavailable", 502),
        ({"body": requests.ConnectionError()}, "registration_configuration_unavailable", 502),
    ],
    ids=["html", "not an object", "404", "redirect", "timeout", "unreachable"],
)  # fmt: skip
def test_configuration_is_refused_when_platform_answers_badly(client, mocked, answer, code, status):
    mocked.get(CONFIG_URL, **answer)
    error = error_of(lambda: client.fetch_configuration(CONFIG_URL))
    assert (error.code, error.http_status) == (code, status)
    assert "client=1" not in json.dumps(error.details)  # the query may carry a token


@pytest.mark.parametrize(
    "url", ["", "/relative", "http://lms.example.edu/c", "javascript:alert(1)"]
)
def test_configuration_url_must_be_absolute_https(client, url):
    error = error_of(lambda: client.fetch_configuration(url))
    assert (error.code, error.http_status) == ("registration_configuration_url_invalid", 400)


def test_plain_http_is_accepted_when_allowed_for_development(mocked):
    url = "http://127.0.0.1:9/.well-known/openid-configuration"
    issuer = "http://127.0.0.1:9"
    mocked.get(url, json=platform_configuration(
        issuer=issuer, authorization_endpoint=issuer + "/auth", token_endpoint=issuer + "/token",
        jwks_uri=issuer + "/jwks", registration_endpoint=issuer + "/register",
    ))  # fmt: skip
    assert PlatformClient(1, allow_http=True).fetch_configuration(url).issuer == issuer


# -- step 3: the client registration ------------------------------------------------------------
CONFIGURATION = PlatformConfiguration(
    issuer=LMS,
    authorization_endpoint=LMS + "/lti/auth",
    token_endpoint=LMS + "/lti/token",
    jwks_uri=LMS + "/lti/certs",
    registration_endpoint=LMS + "/lti/register",
)


def test_registration_posts_the_metadata_with_the_bearer_token(client, mocked):
    metadata = tool_configuration("https://bridge.example.edu", CATALOGUE)
    mocked.post(
        CONFIGURATION.registration_endpoint,
        json={**metadata, "client_id": "c-42", TOOL_CONFIGURATION: {"deployment_id": "d-7"}},
        status=201,
    )
    registered = client.register_client(CONFIGURATION, metadata, "reg-token")
    assert (registered.client_id, registered.deployment_id) == ("c-42", "d-7")
    request = mocked.calls[0].request
    assert request.headers["Authorization"] == "Bearer reg-token"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == metadata
    assert request.req_kwargs["timeout"] == 3.5


def test_registration_without_deployment_id_gives_none(client, mocked):
    mocked.post(CONFIGURATION.registration_endpoint, json={"client_id": "c-1"})
    assert client.register_client(CONFIGURATION, {}).deployment_id == ""
    assert "Authorization" not in mocked.calls[0].request.headers


def test_numeric_deployment_id_is_kept_as_text(client, mocked):
    answer = {"client_id": "c-1", TOOL_CONFIGURATION: {"deployment_id": 3}}
    mocked.post(CONFIGURATION.registration_endpoint, json=answer)
    assert client.register_client(CONFIGURATION, {}).deployment_id == "3"


def test_registration_is_refused_with_the_platform_status_when_platform_refuses(client, mocked):
    mocked.post(
        CONFIGURATION.registration_endpoint,
        json={"error": "invalid_client_metadata", "error_description": "no redirect_uris"},
        status=400,
    )
    error = error_of(lambda: client.register_client(CONFIGURATION, {}))
    assert (error.code, error.http_status) == ("registration_refused", 502)
    assert error.details["status"] == 400
    assert error.details["error"] == "invalid_client_metadata"


@pytest.mark.parametrize(
    "answer",
    [{"json": {"client_name": "x"}}, {"json": {"client_id": ""}}, {"body": "ok"}, {"json": [1]}],
    ids=["no client_id", "empty client_id", "not json", "not an object"],
)
def test_registration_is_incomplete_when_answer_has_no_client_id(client, mocked, answer):
    mocked.post(CONFIGURATION.registration_endpoint, **answer)
    error = error_of(lambda: client.register_client(CONFIGURATION, {}))
    assert (error.code, error.http_status) == ("registration_incomplete", 502)


def test_unreachable_registration_endpoint_is_a_502(client, mocked):
    mocked.post(CONFIGURATION.registration_endpoint, body=requests.ReadTimeout())
    error = error_of(lambda: client.register_client(CONFIGURATION, {}))
    assert (error.code, error.http_status) == ("registration_endpoint_unavailable", 502)


# -- the documents ------------------------------------------------------------------------------
def test_client_metadata_has_every_field_of_pylti1p3s_registration_data():
    class Library(DynamicRegistration):
        def __getattribute__(self, name):
            if name.startswith("get_") and name != "get_request_session":
                return lambda: "x"
            return super().__getattribute__(name)

    theirs = Library().lti_registration_data()
    ours = tool_configuration("https://bridge.example.edu", CATALOGUE)
    assert set(theirs) <= set(ours)
    assert set(theirs[TOOL_CONFIGURATION]) <= set(ours[TOOL_CONFIGURATION])


def test_client_metadata_advertises_deep_linking_and_the_services():
    metadata = tool_configuration("https://bridge.example.edu", CATALOGUE)
    assert set(SCOPES) <= set(metadata["scope"].split())
    messages = {m["type"]: m for m in metadata[TOOL_CONFIGURATION]["messages"]}
    deep_linking = messages["LtiDeepLinkingRequest"]
    assert deep_linking["target_link_uri"] == "https://bridge.example.edu/lti/launch"
    assert {"ContentArea", "link_selection", "assignment_selection"} <= set(
        deep_linking["placements"]
    )
    assert messages["LtiResourceLinkRequest"]["target_link_uri"] == deep_linking["target_link_uri"]


def test_invitation_url_carries_the_token_and_the_hash_does_not():
    token = "tok_en-123"
    assert registration_url("https://bridge.example.edu/", token) == (
        "https://bridge.example.edu/lti/register?invitation=tok_en-123"
    )
    assert token not in hash_token(token) and len(hash_token(token)) == 64
