"""Test support for delivery: a local webhook target that can fail on purpose, and real
`bridge worker` processes that tests can kill and restart."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from bridge.db import Database
from bridge.delivery.models import OutboxItem, OutboxStatus
from bridge.ledger import service as ledger
from bridge.ledger.models import LedgerEntry
from bridge.tenancy.models import Context, Deployment, Membership, Registration, ResourceLink
from tests.support import SECRET

WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Target:
    """A webhook receiver on 127.0.0.1: counts deliveries per webhook-id; ``mode`` sets failures."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.bodies: dict[str, tuple[dict[str, str], bytes]] = {}
        self.mode = "ok"
        self.answers: Counter[str] = Counter()
        self._random = random.Random(4)  # noqa: S311 - test data
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        with self._lock:
            roll = self._random.random()
        if self.mode == "down":
            return self._count("503", Response("down", status=503))
        if self.mode == "flaky":
            if roll < 0.30:
                return self._count("503", Response("try later", status=503))
            if roll < 0.40:
                return self._count(
                    "429", Response("slow down", status=429, headers={"Retry-After": "1"})
                )
            if roll < 0.45:
                time.sleep(2.5)  # longer than the worker's timeout
                return self._count("timeout", Response("too late", status=200))
        if self.mode == "slow":
            time.sleep(0.05)
        key = request.headers.get("webhook-id", "")
        with self._lock:
            self.received[key] += 1
            self.bodies[key] = (dict(request.headers), request.get_data())
        return self._count("200", Response("", status=204))

    def _count(self, answer: str, response: Response) -> Response:
        with self._lock:
            self.answers[answer] += 1
        return response

    def close(self) -> None:
        self._server.shutdown()


class Workers:
    """`bridge worker` processes sharing the app's database and queue."""

    def __init__(self, database_url: str, var_dir: Path, **settings: Any) -> None:
        self.env = {
            **os.environ,
            "BRIDGE_SECRET_KEY": SECRET,
            "BRIDGE_DATABASE_URL": database_url,
            "BRIDGE_VAR_DIR": str(var_dir),
            "BRIDGE_LOG_LEVEL": "WARNING",
            **{f"BRIDGE_{key.upper()}": str(value) for key, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        command = [sys.executable, "-c", "from bridge.cli import main; main()", "worker"]
        self.process = subprocess.Popen(command, env=self.env)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def placement_ids(database: Database) -> dict[str, uuid.UUID]:
    """The ids of the (only) placement and learner a launch recorded."""
    with database.transaction() as session:
        row = session.execute(
            select(
                Registration.organisation_id,
                Deployment.id,
                Context.id,
                ResourceLink.id,
                Membership.user_id,
            )
            .join(Deployment, Deployment.registration_id == Registration.id)
            .join(Context, Context.deployment_id == Deployment.id)
            .join(ResourceLink, ResourceLink.context_id == Context.id)
            .join(Membership, Membership.context_id == Context.id)
            .limit(1)
        ).one()
    return dict(zip(("organisation", "deployment", "context", "link", "user"), row, strict=True))


def write_completions(
    database: Database, ids: dict[str, uuid.UUID], count: int, write_rows: Callable[..., Any]
) -> None:
    """``count`` ledger entries (with their outbox rows), as the completion engine writes them."""
    for start in range(0, count, 100):
        with database.transaction() as session:
            for _ in range(min(100, count - start)):
                _write_one(session, ids, write_rows)


def _write_one(session: Any, ids: dict[str, uuid.UUID], write_rows: Callable[..., Any]) -> None:
    write_rows(session, ledger.append(session, completion_entry(ids)))


def completion_entry(ids: dict[str, uuid.UUID]) -> LedgerEntry:
    """A completion's ledger entry in the placement ``ids`` names (as the engine writes one)."""
    return LedgerEntry(
        organisation_id=ids["organisation"],
        kind="completion",
        deployment_id=ids["deployment"],
        context_id=ids["context"],
        resource_link_id=ids["link"],
        user_id=ids["user"],
        progress_id=uuid.uuid4(),
        completion_id=uuid.uuid4(),
        rule_id=uuid.uuid4(),
        rule_version=1,
        score="1",
        completed=True,
        criteria_met=["discussion.threads_started"],
        criteria_total=1,
        evidence={},
    )


def outbox_counts(database: Database) -> dict[str, int]:
    with database.transaction() as session:
        rows = session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status))
        return {status: count for status, count in rows.all()}  # noqa: C416 - Row pairs


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def ledger_ids(database: Database) -> set[str]:
    with database.transaction() as session:
        return {str(i) for i in session.scalars(select(LedgerEntry.id))}


def settled(database: Database) -> bool:
    counts = outbox_counts(database)
    return counts.get(OutboxStatus.PENDING, 0) == 0 and sum(counts.values()) > 0


def signed_body(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    from standardwebhooks.webhooks import Webhook  # noqa: PLC0415

    wanted = {k.lower(): v for k, v in headers.items() if k.lower().startswith("webhook-")}
    Webhook(WEBHOOK_SECRET).verify(body, wanted)
    return json.loads(body)
