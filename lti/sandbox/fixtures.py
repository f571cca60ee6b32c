"""The sandbox's courses and people."""

from __future__ import annotations

from dataclasses import dataclass

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


@dataclass(frozen=True)
class SandboxCourse:
    key: str
    id: str
    title: str
    label: str


@dataclass(frozen=True)
class SandboxUser:
    key: str
    sub: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]
    description: str


COURSES = (
    SandboxCourse("bio101", "sandbox-course-bio101", "Cell Biology", "BIO-101"),
    SandboxCourse("hist220", "sandbox-course-hist220", "Modern History", "HIST-220"),
)
NO_COURSE = "none"

USERS = (
    SandboxUser(
        "instructor",
        "sandbox-user-ada",
        "Ada Lovelace",
        "Ada",
        "Lovelace",
        "ada@sandbox.invalid",
        (LIS + "membership#Instructor", LIS + "institution/person#Faculty"),
        "Instructor",
    ),
    SandboxUser(
        "learner",
        "sandbox-user-lin",
        "Lin Chen",
        "Lin",
        "Chen",
        "lin@sandbox.invalid",
        (LIS + "membership#Learner", LIS + "institution/person#Student"),
        "Learner",
    ),
    SandboxUser(
        "learner2",
        "sandbox-user-sam",
        "Sam Okafor",
        "Sam",
        "Okafor",
        "sam@sandbox.invalid",
        (LIS + "membership#Learner",),
        "Learner",
    ),
    SandboxUser(
        "norole",
        "sandbox-user-noor",
        "Noor Haddad",
        "Noor",
        "Haddad",
        "noor@sandbox.invalid",
        (),
        "No role",
    ),
    SandboxUser(
        "observer",
        "sandbox-user-obi",
        "Obi Mensah",
        "Obi",
        "Mensah",
        "obi@sandbox.invalid",
        (LIS + "membership#Mentor",),
        "Observer (mentor)",
    ),
)


def course(key: str) -> SandboxCourse | None:
    return next((c for c in COURSES if c.key == key), None)


def user(key: str) -> SandboxUser | None:
    return next((u for u in USERS if u.key == key), None)
