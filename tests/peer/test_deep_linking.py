"""The deep-linking round trip with lti1p3platform; the test checks what the library does not."""

from __future__ import annotations

import html
import re

import jwt
import pytest
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from bridge.tenancy.models import ResourceLink
from tests.peer.platform import CLIENT_ID, DEPLOYMENT_ID, LEARNER, REMOVE, LaunchPlan, PeerConf

DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"


def hidden(text: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', text).group(1))


def deep_link_plan(peer, **changes) -> LaunchPlan:
    link = {
        "return_url": peer.base_url + "/deep-link-return",
        "title": "Week 1",
        "data": "csrf-7f3a",
    }
    link.update(changes)
    return LaunchPlan(deep_link=link)


def pick(client, page: str, widget: str, title: str):
    return client.post(
        "/lti/deep-link",
        data={"deep_link_id": hidden(page, "deep_link_id"), "widget": widget, "title": title},
    )


def verify(client, peer, token: str) -> tuple[dict, list]:
    """The platform library validates signature and content types; aud, nonce, deployment, data are checked here."""
    jwks = client.get("/.well-known/jwks.json").get_json()
    items = PeerConf(
        registration=peer.registration().set_tool_key_set(jwks)
    ).validate_deeplinking_resp({"JWT": token})
    kid = jwt.get_unverified_header(token)["kid"]
    key = RSAAlgorithm.from_jwk(next(k for k in jwks["keys"] if k["kid"] == kid))
    body = jwt.decode(token, key, algorithms=["RS256"], audience=peer.issuer, issuer=CLIENT_ID)
    return body, items


def test_instructor_picks_a_widget_and_the_platform_gets_a_signed_response(peer, launch, client):
    peer.plan = deep_link_plan(peer)
    picker = launch()
    assert picker.response.status_code == 200, picker.text
    assert 'value="discussion" checked' in picker.text and 'value="Week 1"' in picker.text
    answer = pick(client, picker.text, "kb", "Week 1 questions")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200, text
    assert (
        html.unescape(re.search(r'action="([^"]+)"', text).group(1))
        == peer.base_url + "/deep-link-return"
    )
    assert f"form-action 'self' {peer.base_url}" in answer.headers["Content-Security-Policy"]
    body, items = verify(client, peer, hidden(text, "JWT"))
    assert (
        body["https://purl.imsglobal.org/spec/lti/claim/message_type"] == "LtiDeepLinkingResponse"
    )
    assert body["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == DEPLOYMENT_ID
    assert body["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "csrf-7f3a"
    assert body["nonce"] and body["nonce"] != picker.fields.get("nonce")
    assert body["exp"] > body["iat"]
    (item,) = items
    assert item["type"] == "ltiResourceLink" and item["title"] == "Week 1 questions"
    assert item["custom"] == {"widget": "kb", "context_id_history": "$Context.id.history",
                              "resource_link_id_history": "$ResourceLink.id.history"}  # fmt: skip


def test_a_later_launch_of_the_placed_link_opens_the_picked_widget(peer, launch, client):
    peer.plan = deep_link_plan(peer)
    _, items = verify(
        client, peer, hidden(pick(client, launch().text, "video", "").get_data(as_text=True), "JWT")
    )
    custom = {**items[0]["custom"], "context_id_history": "", "resource_link_id_history": ""}
    peer.plan = LaunchPlan(roles=[LEARNER], custom=custom, resource_link_id="placed-link")
    page = launch()
    assert page.response.status_code == 200
    assert "Peer video" in page.text


def test_response_has_no_data_claim_when_the_request_had_none(peer, launch, client):
    peer.plan = deep_link_plan(peer, data=None)
    body, _ = verify(
        client,
        peer,
        hidden(pick(client, launch().text, "discussion", "").get_data(as_text=True), "JWT"),
    )
    assert "https://purl.imsglobal.org/spec/lti-dl/claim/data" not in body


def test_copied_course_keeps_the_placement_settings(peer, launch, db_session, app):
    peer.plan = LaunchPlan(resource_link_id="term1-link")
    assert launch().response.status_code == 200
    with app.extensions["bridge.runtime"].database.transaction() as session:
        session.scalar(
            select(ResourceLink).where(ResourceLink.resource_link_id == "term1-link")
        ).settings = {"anonymous": True}
    peer.plan = LaunchPlan(resource_link_id="term2-link", context_id="course-term2",
                           custom={"resource_link_id_history": "term1-link", "context_id_history": "peer-course-1"})  # fmt: skip
    assert launch().response.status_code == 200
    copied = db_session.scalar(
        select(ResourceLink).where(ResourceLink.resource_link_id == "term2-link")
    )
    assert copied.settings == {"anonymous": True} and copied.history == ["term1-link"]


@pytest.mark.parametrize(
    ("plan_changes", "status", "code"),
    [
        ({"overrides": {DL_SETTINGS: REMOVE}}, 400, "missing_claim"),
        ({"overrides": {DL_SETTINGS: {"accept_types": ["ltiResourceLink"]}}}, 400, "missing_claim"),
        (
            {"deep_link": {"return_url": "https://elsewhere.example/return"}},
            400,
            "unknown_return_url",
        ),
        (
            {"deep_link": {"return_url": "PEER/r", "accept_types": {"link"}}},
            400,
            "deep_linking_unsupported",
        ),
        ({"roles": [LEARNER]}, 403, "deep_linking_forbidden"),
    ],
)
def test_bad_deep_linking_request_gets_a_page(peer, launch, plan_changes, status, code):
    plan = deep_link_plan(peer)
    for name, change in plan_changes.items():
        value = change
        if name == "deep_link":
            with_peer = {
                k: v.replace("PEER", peer.base_url) if isinstance(v, str) else v
                for k, v in change.items()
            }
            value = {**plan.deep_link, **with_peer}
        setattr(plan, name, value)
    peer.plan = plan
    result = launch()
    assert result.response.status_code == status, result.text
    assert f"<code>{code}</code>" in result.text


def test_picker_answer_is_single_use_and_checks_the_widget(peer, launch, client):
    peer.plan = deep_link_plan(peer)
    page = launch().text
    bad = pick(client, page, "chess", "x")
    assert bad.status_code == 422  # the request stays: the instructor may choose again
    assert pick(client, page, "kb", "x").status_code == 200
    again = pick(client, page, "kb", "x")
    assert again.status_code == 400
    assert "<code>deep_linking_expired</code>" in again.get_data(as_text=True)


def test_response_after_a_tool_key_rotation_verifies_with_the_new_key_set(
    peer, launch, client, runner
):
    assert runner.invoke(args=["keys", "ensure"]).exit_code == 0
    stale_jwks = client.get("/.well-known/jwks.json").get_json()
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    peer.plan = deep_link_plan(peer)
    token = hidden(pick(client, launch().text, "kb", "").get_data(as_text=True), "JWT")
    assert jwt.get_unverified_header(token)["kid"] not in {k["kid"] for k in stale_jwks["keys"]}
    # lti1p3platform caches the tool's key set on its registration object: the stale one fails...
    stale = PeerConf(registration=peer.registration().set_tool_key_set(stale_jwks))
    with pytest.raises(Exception, match="Unable to find public key"):
        stale.validate_deeplinking_resp({"JWT": token})
    # ...and a fresh registration, which fetches the published set again, verifies it.
    body, items = verify(client, peer, token)
    assert items[0]["custom"]["widget"] == "kb" and body["iss"] == CLIENT_ID


def test_replayed_deep_linking_request_is_refused(peer, launch, client):
    peer.plan = deep_link_plan(peer)
    first = launch()
    assert first.response.status_code == 200
    again = client.post("/lti/launch", data=first.fields)
    assert again.status_code == 400
    assert "<code>replayed_launch</code>" in again.get_data(as_text=True)
