"""Tool keys (RSA >= 2048, kid thumbprints) and the required-claim checks."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bridge.errors import LaunchError
from bridge.widgets import WidgetCatalogue, WidgetSpec
from lti import claims
from lti.keys import generate_rsa_pem, public_jwk_of
from lti.launch import build_launch, choose_widget

CATALOGUE = WidgetCatalogue(
    (WidgetSpec("discussion", "D", ""), WidgetSpec("kb", "K", "")), default="discussion"
)


def test_generated_keys_are_rsa_2048_with_a_thumbprint_kid():
    pem = generate_rsa_pem()
    assert load_pem_private_key(pem.encode(), password=None).key_size >= 2048
    jwk = public_jwk_of(pem)
    assert jwk["alg"] == "RS256" and jwk["use"] == "sig" and len(jwk["kid"]) >= 40
    assert "d" not in jwk


def valid_body(**changes):
    body = {
        "iss": "https://lms.example", "sub": "u1", "aud": "c1",
        claims.MESSAGE_TYPE: claims.RESOURCE_LINK_REQUEST, claims.VERSION: "1.3.0",
        claims.DEPLOYMENT_ID: "d1", claims.ROLES: [], claims.RESOURCE_LINK: {"id": "r1"},
    }  # fmt: skip
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({claims.MESSAGE_TYPE: None, claims.VERSION: None}, "not_lti_message"),
        ({claims.MESSAGE_TYPE: None}, "missing_claim"),
        ({claims.VERSION: "1.1"}, "wrong_lti_version"),
        ({claims.ROLES: None}, "missing_claim"),
        ({claims.ROLES: [1]}, "invalid_claim"),
        ({"sub": "  "}, "missing_claim"),
        ({claims.RESOURCE_LINK: {"id": ""}}, "missing_claim"),
        ({claims.CUSTOM: ["widget"]}, "invalid_claim"),
    ],
)
def test_required_claims_are_checked(changes, code):
    with pytest.raises(LaunchError) as caught:
        claims.check_required(valid_body(**changes))
    assert caught.value.code == code


def test_valid_body_passes_the_claim_checks():
    claims.check_required(valid_body())


def test_widget_choice_prefers_custom_then_target_link_then_default():
    assert (
        choose_widget({"widget": "kb"}, "https://t/lti/launch?widget=discussion", CATALOGUE) == "kb"
    )
    assert choose_widget({}, "https://t/lti/launch?widget=KB", CATALOGUE) == "kb"
    assert choose_widget({}, "https://t/lti/launch", CATALOGUE) == "discussion"
    with pytest.raises(LaunchError):
        choose_widget({"widget": "chess"}, "", CATALOGUE)


def test_unsubstituted_history_variables_are_dropped_and_real_ones_kept():
    body = valid_body(
        **{
            claims.CUSTOM: {
                "context_id_history": "$Context.id.history",
                "resource_link_id_history": "a,b",
            }
        }
    )
    launch = build_launch(body, "c1", CATALOGUE)
    assert launch.context_history == ()
    assert launch.resource_link_history == ("a", "b")
    assert launch.context is None and launch.roles == ()
