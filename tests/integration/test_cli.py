"""`bridge platform|deployment|keys` as an LMS admin uses them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bridge.tenancy.models import Registration

ADD = ["platform", "add", "--issuer", "https://moodle.example.edu", "--client-id", "abc123",
       "--auth-login-url", "https://moodle.example.edu/mod/lti/auth.php",
       "--key-set-url", "https://moodle.example.edu/mod/lti/certs.php",
       "--auth-token-url", "https://moodle.example.edu/mod/lti/token.php",
       "--deployment-id", "1", "--deployment-id", "2",
       "--allowed-origin", "https://moodle.example.edu", "--name", "Moodle production"]  # fmt: skip


@pytest.fixture
def app_config():
    return {"public_url": "https://bridge.example.edu"}


@pytest.fixture
def app(database_url, tmp_path, app_config):
    from tests.support import make_app, truncate_all  # noqa: PLC0415

    application = make_app(database_url, tmp_path / "var", **app_config)
    database = application.extensions["bridge.runtime"].database
    if not database.is_sqlite:
        truncate_all(database)
    return application


def test_platform_add_registers_and_prints_the_tool_urls(runner, db_session):
    result = runner.invoke(args=ADD)
    assert result.exit_code == 0, result.output
    assert "https://bridge.example.edu/lti/login" in result.output
    assert "https://bridge.example.edu/.well-known/jwks.json" in result.output
    registration = db_session.scalar(select(Registration))
    assert registration.client_id == "abc123"
    assert registration.allowed_origins == ["https://moodle.example.edu"]


def test_platform_list_and_show_describe_registrations(runner):
    runner.invoke(args=ADD)
    listed = runner.invoke(args=["platform", "list"])
    assert "https://moodle.example.edu" in listed.output and "1 (active)" in listed.output
    shown = json.loads(
        runner.invoke(args=["platform", "show", "--issuer", "https://moodle.example.edu"]).output
    )
    assert shown["client_id"] == "abc123"
    assert {d["deployment_id"] for d in shown["deployments"]} == {"1", "2"}
    as_json = json.loads(runner.invoke(args=["platform", "list", "--json"]).output)
    assert as_json[0]["organisation"] == "Moodle production"


def test_platform_add_refuses_a_duplicate_with_a_clear_message(runner):
    runner.invoke(args=ADD)
    again = runner.invoke(args=ADD)
    assert again.exit_code == 1
    assert "exists" in again.output and "Traceback" not in again.output


def test_same_issuer_may_have_several_client_ids(runner):
    assert runner.invoke(args=ADD).exit_code == 0
    second = [*ADD]
    second[second.index("abc123")] = "def456"
    assert runner.invoke(args=second).exit_code == 0
    ambiguous = runner.invoke(args=["platform", "show", "--issuer", "https://moodle.example.edu"])
    assert ambiguous.exit_code == 1 and "--client-id" in ambiguous.output


def test_platform_add_attaches_to_an_existing_organisation(runner, db_session):
    runner.invoke(args=ADD)
    other = ["platform", "add", "--issuer", "https://canvas.instructure.com", "--client-id", "1000000000001",
             "--auth-login-url", "https://sso.canvaslms.com/api/lti/authorize_redirect",
             "--key-set-url", "https://sso.canvaslms.com/api/lti/security/jwks",
             "--organisation", "Moodle production"]  # fmt: skip
    assert runner.invoke(args=other).exit_code == 0
    organisations = {r.organisation_id for r in db_session.scalars(select(Registration))}
    assert len(organisations) == 1
    missing = runner.invoke(args=[*other[:5], "another-client", *other[6:-1], "No Such Org"])
    assert missing.exit_code == 1 and "No organisation" in missing.output


def test_platform_add_refuses_an_allowed_origin_with_a_path(runner):
    bad = [*ADD[:-4], "--allowed-origin", "https://moodle.example.edu/course"]
    result = runner.invoke(args=bad)
    assert result.exit_code == 2 and "not an origin" in result.output


def test_platform_remove_needs_confirmation_or_yes(runner, db_session):
    runner.invoke(args=ADD)
    declined = runner.invoke(
        args=["platform", "remove", "--issuer", "https://moodle.example.edu"], input="n\n"
    )
    assert declined.exit_code == 1 and db_session.scalar(select(Registration)) is not None
    removed = runner.invoke(
        args=["platform", "remove", "--issuer", "https://moodle.example.edu", "--yes"]
    )
    assert removed.exit_code == 0 and db_session.scalar(select(Registration)) is None


def test_deployment_activate_adds_and_lists(runner):
    runner.invoke(args=ADD)
    result = runner.invoke(
        args=[
            "deployment",
            "activate",
            "--issuer",
            "https://moodle.example.edu",
            "--deployment-id",
            "7",
        ]
    )
    assert result.exit_code == 0 and "active" in result.output
    listed = runner.invoke(args=["deployment", "list"]).output
    assert "deployment_id=7  active" in listed
    assert runner.invoke(args=["deployment", "list", "--pending"]).output == ""


def test_unknown_platform_gives_a_clear_error(runner):
    result = runner.invoke(
        args=["deployment", "activate", "--issuer", "https://nope", "--deployment-id", "1"]
    )
    assert result.exit_code == 1 and "No registration for issuer" in result.output


def test_keys_ensure_is_idempotent_and_keys_are_encrypted(runner, db_session):
    from lti.keys import ToolKey  # noqa: PLC0415

    first = runner.invoke(args=["keys", "ensure"]).output
    second = runner.invoke(args=["keys", "ensure"]).output
    assert first == second and "kid" in first
    key = db_session.scalar(select(ToolKey))
    assert "PRIVATE KEY" not in key.private_key


def test_config_command_masks_the_secret(runner):
    output = runner.invoke(args=["config"]).output
    assert (
        "secret_key = '********'" in output
        and "public_url = 'https://bridge.example.edu'" in output
    )


def test_serve_refuses_to_start_on_an_unmigrated_database(tmp_path):
    from tests.support import make_app  # noqa: PLC0415

    empty = make_app(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "var")
    result = empty.test_cli_runner().invoke(args=["serve", "--port", "5999"])
    assert result.exit_code == 1
    assert "run `bridge setup` first" in result.output


def test_platform_invite_prints_a_registration_url_and_stores_only_a_hash(runner, db_session):
    from bridge.tenancy.models import RegistrationInvitation  # noqa: PLC0415
    from lti.dynamic_registration.invitations import hash_token  # noqa: PLC0415

    runner.invoke(args=ADD)
    result = runner.invoke(
        args=["platform", "invite", "--organisation", "Moodle production", "--hours", "2"]
    )
    assert result.exit_code == 0, result.output
    url = next(line for line in result.output.splitlines() if "/lti/register?" in line)
    assert url.startswith("https://bridge.example.edu/lti/register?invitation=")
    token = url.split("invitation=", 1)[1]
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    invitation = db_session.scalar(select(RegistrationInvitation))
    assert invitation.token_hash == hash_token(token) and token not in invitation.token_hash
    assert invitation.used_at is None and invitation.auto_activate_deployments is False
    assert invitation.organisation_id == db_session.scalar(select(Registration)).organisation_id
    hours = (invitation.expires_at - invitation.created_at).total_seconds() / 3600
    assert 1.99 < hours <= 2.0


def test_platform_invite_refuses_an_unknown_organisation_and_a_zero_lifetime(runner, db_session):
    from bridge.tenancy.models import RegistrationInvitation  # noqa: PLC0415

    unknown = runner.invoke(args=["platform", "invite", "--organisation", "No Such Org"])
    assert unknown.exit_code == 1 and "No organisation" in unknown.output
    assert runner.invoke(args=["platform", "invite", "--hours", "0"]).exit_code == 2
    assert db_session.scalar(select(RegistrationInvitation)) is None


def test_platform_origins_adds_and_removes_framing_origins(runner):
    runner.invoke(args=ADD)
    issuer = ["--issuer", "https://moodle.example.edu"]
    added = runner.invoke(
        args=["platform", "origins", *issuer, "--add", "https://school.instructure.com"]
    )
    assert added.exit_code == 0, added.output
    assert added.output.split() == ["https://moodle.example.edu", "https://school.instructure.com"]
    removed = runner.invoke(
        args=["platform", "origins", *issuer, "--remove", "https://moodle.example.edu"]
    )
    assert removed.output.split() == ["https://school.instructure.com"]
    bad = runner.invoke(args=["platform", "origins", *issuer, "--add", "https://x.example/path"])
    assert bad.exit_code == 2 and "not an origin" in bad.output


def test_keys_rotate_publishes_both_keys_and_signs_with_the_new_one(runner, client, app):
    from datetime import timedelta  # noqa: PLC0415

    from bridge.db import utcnow  # noqa: PLC0415
    from lti import keys as tool_keys  # noqa: PLC0415

    first = runner.invoke(args=["keys", "ensure"]).output.split()[-1]
    rotated = runner.invoke(args=["keys", "rotate", "--grace-hours", "24"])
    assert rotated.exit_code == 0, rotated.output
    second = rotated.output.split("kid ")[1].split()[0]
    assert {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]} == {
        first,
        second,
    }
    listed = runner.invoke(args=["keys", "list"]).output
    assert f"{second}" in listed and "signing" in listed and "published until" in listed
    database = app.extensions["bridge.runtime"].database
    with database.transaction() as session:
        assert tool_keys.signing_key(session, app.extensions["bridge.runtime"].box)[0] == second
        for key in tool_keys.all_keys(session):
            if key.kid == first:
                key.retired_at = utcnow() - timedelta(seconds=1)  # the grace period is over
    assert [k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]] == [second]
    assert "retired" in runner.invoke(args=["keys", "list"]).output


@pytest.mark.parametrize(
    "value",
    [
        "https://lms.example.edu *",
        "https://lms.example.edu; script-src *",
        "https://u:p@lms.example.edu",
        "https://lms.example.edu/?x=1",
    ],
)
def test_origins_that_would_bend_the_csp_header_are_refused(runner, value):
    result = runner.invoke(args=[*ADD[:-4], "--allowed-origin", value])
    assert result.exit_code == 2 and "not an origin" in result.output
