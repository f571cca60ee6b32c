"""Role mapping: the one tested place where the LTI roles claim becomes access."""

from __future__ import annotations

import pytest

from bridge.tenancy.rules import Access, grant_for, parse_role

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"

CASES = [
    ([LIS + "membership#Instructor"], Access.MODERATOR, False),
    ([LIS + "membership/Instructor#TeachingAssistant"], Access.MODERATOR, False),
    ([LIS + "membership#ContentDeveloper"], Access.MODERATOR, False),
    ([LIS + "membership#Administrator"], Access.MODERATOR, False),
    (["TeachingAssistant"], Access.MODERATOR, False),
    (["Instructor"], Access.MODERATOR, False),
    ([LIS + "membership#Learner"], Access.PARTICIPANT, False),
    (["Learner"], Access.PARTICIPANT, False),
    ([LIS + "membership/Learner#NonCreditLearner"], Access.PARTICIPANT, False),
    ([LIS + "membership#Learner", LIS + "membership#Instructor"], Access.MODERATOR, False),
    ([LIS + "membership#Mentor"], Access.VIEWER, False),
    ([LIS + "membership#Guest"], Access.VIEWER, False),
    (["Observer"], Access.VIEWER, False),
    ([], Access.VIEWER, False),
    ([""], Access.VIEWER, False),
    (["http://example.com/custom#Wizard"], Access.VIEWER, False),
    ([LIS + "institution/person#Administrator"], Access.MODERATOR, True),
    ([LIS + "system/person#SysAdmin"], Access.MODERATOR, True),
    (
        [LIS + "institution/person#Administrator", LIS + "membership#Learner"],
        Access.PARTICIPANT,
        True,
    ),
    ([LIS + "institution/person#Faculty"], Access.VIEWER, False),
    ([LIS + "system/person#User", LIS + "membership#Learner"], Access.PARTICIPANT, False),
    ([LIS + "institution/person#Instructor", LIS + "system/person#User"], Access.VIEWER, False),
]


@pytest.mark.parametrize(("roles", "access", "is_admin"), CASES)
def test_roles_claim_maps_to_access(roles, access, is_admin):
    grant = grant_for(roles)
    assert (grant.access, grant.is_admin) == (access, is_admin)


def test_parse_role_splits_scope_name_and_sub_role():
    parsed = parse_role(LIS + "membership/Instructor#TeachingAssistant")
    assert (parsed.scope, parsed.name, parsed.sub_role) == (
        "membership",
        "Instructor",
        "TeachingAssistant",
    )
    assert parse_role("  ") is None
    assert parse_role("urn:lti:role:ims/lis/Learner") is None


def test_only_participants_and_moderators_may_post():
    assert Access.MODERATOR.can_post and Access.PARTICIPANT.can_post and not Access.VIEWER.can_post
    assert Access.MODERATOR.can_moderate and not Access.PARTICIPANT.can_moderate
