"""Grade sync end to end: launch → discussion posts → completion → a score in an independent LMS.

The tool runs on a real local HTTP server; the platform is lti1p3platform (launches, token
endpoint, AGS line items and scores in memory, NRPS) behind the tests' web glue; a real
`bridge worker` process shares the tool's database, var dir and secret, and takes the tool's
after-commit wake-ups from the same queue: the embedded SQLite queue, or Redis. Nothing is
delivered in-process. The glue checks the client assertion's iss, sub, aud and jti, which the
library leaves unchecked; a refusal lands in ``services.problems``.

Waits are functional timeouts (the score must arrive), not latency measurements.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import jwt
import pytest
import requests
from huey import RedisHuey, SqliteHuey
from sqlalchemy import select

from bridge.delivery.models import OutboxItem, OutboxStatus
from bridge.ledger.models import LedgerEntry
from lti.keys import generate_rsa_pem, public_jwk_of
from tests.integration.delivery_support import Workers, wait_for
from tests.peer.platform import (
    CLIENT_ID,
    INSTRUCTOR,
    LEARNER,
    LaunchPlan,
    PeerConf,
    PeerPlatform,
)
from tests.peer.services import JWT_BEARER, NRPS_SCOPE, PeerServices
from tests.support import LiveServer, require_redis, truncate_all

SESSION_META = re.compile(r'name="bridge-session" content="([^"]+)"')
API = "/api/v1"
SCORE_MAXIMUM = 10
TEACHER = {"user_id": "gs-teacher-1", "roles": [INSTRUCTOR], "name": "Tess Teacher"}
STUDENT = {"user_id": "gs-learner-1", "roles": [LEARNER], "name": "Lou Learner"}
#: Short waits: a retry (if any) comes within a second, and an idle worker looks often.
FAST = {
    "http_timeout_seconds": 2,
    "delivery_backoff_seconds": 0.2,
    "delivery_backoff_max_seconds": 1,
    "delivery_lease_seconds": 10,
    "sweep_seconds": 1,
    "worker_poll_seconds": 0.1,
    "worker_threads": 2,
}
ARRIVAL_SECONDS = 30


@pytest.fixture(params=["sqlite-queue", pytest.param("redis-queue", marks=pytest.mark.redis)])
def queue_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    return {"redis_url": require_redis()} if request.param == "redis-queue" else {}


@pytest.fixture
def live(database_url: str, tmp_path, queue_settings: dict[str, str]) -> Iterator[LiveServer]:
    """The tool over HTTP, with the queue and delivery settings the worker gets too."""
    server = LiveServer(database_url, tmp_path / "var", **queue_settings, **FAST)
    database = server.app.extensions["bridge.runtime"].database
    if not database.is_sqlite:
        truncate_all(database)
    server.app.extensions["bridge.jobs"].queue.flush()  # no task left from an earlier run
    yield server
    server.close()


@pytest.fixture
def lms(live: LiveServer) -> Iterator[tuple[PeerPlatform, PeerServices]]:
    """The independent platform, launching at the live tool, with its services beside it; the
    services read the tool's key set over HTTP, as a real platform does."""
    platform = PeerPlatform(tool_base_url=live.base_url)
    services = PeerServices(
        platform,
        lambda: requests.get(f"{live.base_url}/.well-known/jwks.json", timeout=5).json(),
    )
    services.members = [dict(TEACHER), dict(STUDENT)]  # the roster, should the tool sync it
    yield platform, services
    services.close()
    platform.close()


@pytest.fixture
def worker(live: LiveServer, database_url: str, tmp_path, queue_settings) -> Iterator[Workers]:
    """A real `bridge worker` process on the tool's database, var dir, secret and queue."""
    process = Workers(database_url, tmp_path / "var", **{**FAST, **queue_settings})
    yield process
    process.stop()


class Browser:
    """One person's browser: launched through the platform, then calling the tool's API."""

    def __init__(self, live: LiveServer, platform: PeerPlatform, person: dict[str, Any]) -> None:
        self.live, self.platform, self.person = live, platform, person
        self.http = requests.Session()
        self.token = ""

    def launch(self, claims: dict[str, Any]) -> None:
        """OIDC login at the tool, authentication at the platform, the id_token posted back."""
        self.platform.plan = LaunchPlan(
            user_id=self.person["user_id"],
            roles=self.person["roles"],
            name=self.person["name"],
            email=None,
            extra_claims=claims,
        )
        login = self.http.get(self.platform.login_url(), allow_redirects=False, timeout=10)
        assert login.status_code == 302, login.text
        action, fields = self.platform.authenticate(login.headers["Location"])
        assert action == f"{self.live.base_url}/lti/launch"
        page = self.http.post(action, data=fields, timeout=10)
        assert page.status_code == 200, page.text
        self.token = SESSION_META.search(page.text).group(1)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(
            method, self.live.base_url + API + path, headers=headers, timeout=10, **kwargs
        )

    def start_thread(self, title: str) -> dict[str, Any]:
        posted = self.call("POST", "/discussion/threads", json={"title": title, "body": "Hello"})
        assert posted.status_code == 201, posted.text
        return posted.json()

    def reply(self, thread: dict[str, Any], body: str) -> None:
        detail = self.call("GET", f"/discussion/threads/{thread['id']}").json()
        opening = detail["posts"][0]["id"]
        posted = self.call(
            "POST",
            f"/discussion/threads/{thread['id']}/posts",
            json={"parent_id": opening, "body": body},
        )
        assert posted.status_code == 201, posted.text


def scores_for(services: PeerServices, sub: str) -> list[dict[str, Any]]:
    return [
        score
        for held in list(services.gradebook.scores.values())
        for score in list(held)
        if score.get("userId") == sub
    ]


def wait_for_scores(services: PeerServices, sub: str, count: int) -> list[dict[str, Any]]:
    wait_for(
        lambda: len(scores_for(services, sub)) >= count,
        ARRIVAL_SECONDS,
        f"{count} score(s) for {sub} in the platform's gradebook (problems: {services.problems})",
    )
    return scores_for(services, sub)


def outbox_rows(live: LiveServer) -> list[tuple[str, str, str, int | None, str]]:
    """(ledger kind, connector, status, last HTTP status, remote id) in ledger order."""
    with live.app.extensions["bridge.runtime"].database.transaction() as session:
        rows = session.execute(
            select(
                LedgerEntry.kind,
                OutboxItem.connector,
                OutboxItem.status,
                OutboxItem.last_status,
                OutboxItem.remote_id,
            )
            .join(LedgerEntry, LedgerEntry.id == OutboxItem.ledger_id)
            .order_by(LedgerEntry.seq)
        ).all()
    return [tuple(row) for row in rows]


def cli(live: LiveServer, *args: str) -> str:
    result = live.app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def check_score(score: dict[str, Any], sub: str, given: int, progress: str, comment: str) -> None:
    assert score["userId"] == sub
    assert (score["scoreGiven"], score["scoreMaximum"]) == (given, SCORE_MAXIMUM)
    assert score["activityProgress"] == progress
    assert score["gradingProgress"] == "FullyGraded"
    assert datetime.fromisoformat(score["timestamp"]).utcoffset() is not None
    assert score["comment"] == comment


CASES = {
    # completion mode, the platform's own gradebook column in the claim (AGS §3.1 ``lineitem``)
    "completion-own-lineitem": "completion",
    # progress mode, only the container: the tool finds or creates its line item (§3.2)
    "progress-tool-lineitem": "progress",
}


@pytest.mark.parametrize("mode", list(CASES.values()), ids=list(CASES))
def test_the_platforms_gradebook_holds_the_learners_score_when_they_meet_the_rule(
    live: LiveServer,
    lms: tuple[PeerPlatform, PeerServices],
    worker: Workers,
    queue_settings: dict[str, str],
    mode: str,
) -> None:
    platform, services = lms
    own = services.add_line_item(label="Discussion", scoreMaximum=SCORE_MAXIMUM)
    claims = services.launch_claims(lineitem=own if mode == "completion" else None)
    cli(live, *platform.cli_add_args("--auth-token-url", services.token_url))
    added = cli(live, "connector", "set", "ags", "--issuer", platform.issuer,
                "--set", f"score_maximum={SCORE_MAXIMUM}")  # fmt: skip
    assert "LTI Assignment and Grade Services is on for every deployment" in added

    teacher, learner = Browser(live, platform, TEACHER), Browser(live, platform, STUDENT)
    teacher.launch(claims)
    learner.launch(claims)
    worker.start()

    criteria = [{"key": "discussion.threads_started", "count": 1}]
    if mode == "progress":
        criteria.append({"key": "discussion.peer_replies", "count": 1})
    rule = teacher.call(
        "PUT", "/completions/rules", json={"criteria": criteria, "score_mode": mode}
    )
    assert rule.status_code == 200, rule.text
    labels = [c["label"] for c in rule.json()["criteria"]]

    opening = teacher.start_thread("Welcome")  # an instructor's activity earns no score
    learner.start_thread("My first thread")
    sub = STUDENT["user_id"]
    if mode == "progress":  # half the criteria: an InProgress score first
        (first,) = wait_for_scores(services, sub, 1)
        check_score(first, sub, SCORE_MAXIMUM // 2, "InProgress",
                    f"Criteria met (1 of 2): {labels[0]}.")  # fmt: skip
        learner.reply(opening, "Thanks for the welcome")
        first_then_last = wait_for_scores(services, sub, 2)
        assert first_then_last[0] == first
        last = first_then_last[-1]
        spacing = datetime.fromisoformat(last["timestamp"]) - datetime.fromisoformat(
            first["timestamp"]
        )
        assert spacing >= timedelta(seconds=1)  # Moodle compares timestamps to the second
        check_score(last, sub, SCORE_MAXIMUM, "Completed",
                    f"Criteria met (2 of 2): {labels[0]}; {labels[1]}.")  # fmt: skip
    else:
        (last,) = wait_for_scores(services, sub, 1)
        check_score(last, sub, SCORE_MAXIMUM, "Completed", f"Criteria met (1 of 1): {labels[0]}.")

    # Where the scores went: the claim's own line item, or one line item the tool created.
    if mode == "completion":
        assert list(services.gradebook.line_items) == [own]
        assert len(services.gradebook.scores[own]) == 1
    else:
        created = [url for url in services.gradebook.line_items if url != own]
        assert len(created) == 1
        assert services.gradebook.line_items[created[0]]["resourceLinkId"] == "peer-link-1"
        assert services.gradebook.line_items[created[0]]["scoreMaximum"] == SCORE_MAXIMUM
        assert services.gradebook.scores[own] == []
        assert len(services.gradebook.scores[created[0]]) == 2

    # The tool's side: every ledger row delivered once, to AGS, recorded as such.
    kinds = ["progress", "completion"] if mode == "progress" else ["completion"]
    remote = own if mode == "completion" else created[0]
    delivered = [(kind, "ags", OutboxStatus.DELIVERED, 200, remote) for kind in kinds]
    wait_for(lambda: outbox_rows(live) == delivered, 10, "the outbox rows settled as delivered")
    me = learner.call("GET", "/completions/me")
    assert me.status_code == 200, me.text
    standing = me.json()["standing"]
    assert standing["completed_at"] and Decimal(standing["score"]) == 1
    assert [(d["connector"], d["status"]) for d in standing["deliveries"]] == [("ags", "delivered")]
    # The tool's wake-ups went to the queue the worker consumes: it holds nothing left over.
    queue = live.app.extensions["bridge.jobs"].queue
    assert isinstance(queue, RedisHuey if queue_settings else SqliteHuey)
    wait_for(lambda: queue.pending_count() == 0, 10, "the worker took the tool's wake-ups")
    verified = cli(live, "ledger", "verify")  # exits 0: the hash chain holds
    assert f"Ledger intact: {len(kinds)} entries verified." in verified

    # Only learners' completions are sent: no ledger row (above) and no score for the instructor,
    # who is not among the learners the instructor's own view lists either.
    assert scores_for(services, TEACHER["user_id"]) == []
    standings = teacher.call("GET", "/completions/learners")
    assert standings.status_code == 200, standings.text
    assert [
        (row["name"], row["deliveries"][0]["status"]) for row in standings.json()["learners"]
    ] == [(STUDENT["name"], "delivered")]

    # The platform's own checks, which the library leaves out, found nothing wrong.
    assert services.problems == []
    assert services.assertions, "the worker asked for at least one access token"
    jtis = [a["claims"]["jti"] for a in services.assertions]
    assert len(set(jtis)) == len(jtis)
    for assertion in services.assertions:
        claims_seen = assertion["claims"]
        assert claims_seen["iss"] == claims_seen["sub"] == CLIENT_ID
        assert claims_seen["aud"] == services.token_url
        assert assertion["header"]["alg"] == "RS256" and assertion["header"]["kid"]
    score_calls = [c for c in services.calls if c.path.endswith("/scores")]
    assert len(score_calls) == len(kinds)
    assert all(c.content_type == "application/vnd.ims.lis.v1.score+json" for c in score_calls)


# -- the glue's own assertion checks bite -----------------------------------------------------

CONTROL_JTI = "control-jti"


@pytest.fixture
def bare_services(peer_server: PeerPlatform) -> Iterator[tuple[PeerServices, Callable[..., str]]]:
    """The services with a tool key of their own (no tool app needed), and a signer with it."""
    pem = generate_rsa_pem()
    public = public_jwk_of(pem)
    services = PeerServices(peer_server, lambda: {"keys": [public]})

    def sign(**changes: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": services.token_url,
            "iat": now,
            "exp": now + 300,
            "jti": f"test-{uuid.uuid4()}",
        }
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": public["kid"]})

    yield services, sign
    services.close()


def token_form(assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        "scope": NRPS_SCOPE,
    }


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"iss": "someone-else"}, "iss/sub"),
        ({"sub": "someone-else"}, "iss/sub"),
        ({"aud": "https://elsewhere.example/token"}, "aud"),
        ({"jti": None}, "jti"),
        ({"jti": CONTROL_JTI}, "jti"),
        ({"exp": None}, "lifetime"),
        ({"iat": None}, "lifetime"),
        ({"exp": int(time.time()) + 86_400}, "lifetime"),
    ],
    ids=["iss", "sub", "aud", "no-jti", "reused-jti", "no-exp", "no-iat", "a-day-long"],
)
def test_the_platform_refuses_an_assertion_the_library_alone_accepts_when_a_claim_is_wrong(
    bare_services, changes: dict[str, Any], problem: str
) -> None:
    services, sign = bare_services
    control = requests.post(services.token_url, data=token_form(sign(jti=CONTROL_JTI)), timeout=5)
    assert control.status_code == 200, control.text
    assert services.problems == []
    form = token_form(sign(**changes))
    library = PeerConf(
        registration=services.peer.registration().set_tool_key_set(services.tool_jwks())
    )
    assert library.get_access_token(dict(form))["access_token"]  # signature and expiry: fine

    refused = requests.post(services.token_url, data=form, timeout=5)
    assert refused.status_code == 401, refused.text
    assert refused.json() == {"error": "invalid_client"}
    assert len(services.problems) == 1 and problem in services.problems[0]
