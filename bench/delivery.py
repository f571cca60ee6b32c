"""Completions delivered per second by the worker against a serial loop (the floor), and latency.

TARGET is a local AGS-style platform (bench/ags_target.py under gunicorn, 2 workers x 8 threads,
keep-alive): a token endpoint and ``POST <lineitem>/scores`` answering 200, each arrival logged
with its time. Both sides send the same score documents to it.

OURS: 10,000 completions written as the completion engine writes them (ledger entry + outbox row,
the placement's AGS claim naming the line item) with no worker running, then ``bridge worker``
(embedded mode: SQLite database and SQLite queue, default settings: 2 processes x 4 threads) is
started and timed until every score has arrived: claim a batch, build the items, the AGS
connector (token from the shared cache, score POST), settle the batch. The resident memory of its
processes is sampled every 1,000 scores ("memory flat").

FLOOR: a serial ``requests.Session`` loop POSTing the same 10,000 score documents with a bearer
token: the bare HTTP work with no database, queue or retry bookkeeping.

LATENCY: with the worker idle, 200 single completions, one at a time: from the ledger entry's
``recorded_at`` (the instant the completion is written, in the transaction of the learner's event)
to the instant the platform received the score.

Two runs: against a platform that answers at once (the floor is then bound by CPU only, and the
ratio shows what the bookkeeping costs per score), and against one that takes 20 ms per score,
as a real gradebook write does (2,000 completions: the serial floor spends 40 s waiting). The
figures of both go to docs/benchmarks.md. Performance is measured here, never asserted.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.launch import Launch, LaunchContext, LaunchResourceLink, LaunchUser
from bridge.ledger import service as ledger
from bridge.tenancy import service as tenancy
from tests.integration.delivery_support import completion_entry
from tests.support import SECRET, make_app

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
ISSUER = "https://bench-lms.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Target:
    """bench/ags_target.py under gunicorn (2 workers x 8 threads); receipts in a file."""

    def __init__(self, directory: Path, latency_ms: float = 0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.receipts = directory / f"receipts-{latency_ms:g}ms.txt"
        self.receipts.touch()
        self._offset = 0
        command = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", "2", "-k", "gthread",
                   "--threads", "8", "--chdir", str(Path(__file__).parent), "-b", f"127.0.0.1:{self.port}",
                   "--log-level", "warning", "ags_target:app"]  # fmt: skip
        env = {
            **os.environ,
            "BENCH_RECEIPTS": str(self.receipts),
            "BENCH_LATENCY_MS": str(latency_ms),
        }
        self.process = subprocess.Popen(command, env=env)
        for _ in range(100):
            try:
                requests.post(f"{self.url}/token", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise SystemExit("the AGS target did not start")

    def arrivals(self) -> list[tuple[str, float]]:
        """Scores received since the last call: (comment, unix time)."""
        with self.receipts.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        found = []
        for line in complete.decode().splitlines():
            comment, _, at = line.rpartition(" ")
            found.append((comment, float(at)))
        return found

    def wait_for(
        self, count: int, timeout: float, on_progress: Any = None
    ) -> list[tuple[str, float]]:
        got: list[tuple[str, float]] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(got)} of {count} scores arrived in {timeout} s")
            new = self.arrivals()
            got += new
            if on_progress is not None:
                on_progress(len(got))
            if not new:
                time.sleep(0.005)
        return got

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


def set_up(var_dir: Path, target: str) -> tuple[Any, dict[str, Any]]:
    app = make_app(f"sqlite:///{var_dir / 'bridge.db'}", var_dir, public_url="http://127.0.0.1:9")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["setup"]).exit_code == 0
    database = app.extensions["bridge.runtime"].database
    with database.transaction() as session:
        registration = tenancy.add_registration(
            session,
            tenancy.RegistrationSpec(
                issuer=ISSUER,
                client_id="bench",
                auth_login_url=f"{target}/auth",
                key_set_url=f"{target}/jwks",
                auth_token_url=f"{target}/token",
                deployment_ids=["d1"],
            ),
        )
        deployment = registration.deployments[0]
        launch = Launch(
            issuer=ISSUER,
            client_id="bench",
            deployment_id="d1",
            message_type="LtiResourceLinkRequest",
            user=LaunchUser(sub="learner-1", name="Bench Learner"),
            roles=("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",),
            resource_link=LaunchResourceLink(id="rl-1", title="Bench discussion"),
            widget="discussion",
            context=LaunchContext(id="course-1", title="Bench course"),
        )
        scope = tenancy.record_launch(session, registration, deployment, launch).scope
        from bridge.tenancy.models import ResourceLink

        link = session.get(ResourceLink, scope.resource_link_id)
        link.ags = {"scope": [AGS + "score", AGS + "lineitem"], "lineitem": f"{target}/lineitems/1"}
    result = runner.invoke(args=["connector", "set", "ags", "--issuer", ISSUER])
    assert result.exit_code == 0, result.output
    return app, {
        "organisation": scope.organisation_id,
        "deployment": scope.deployment_id,
        "context": scope.context_id,
        "link": scope.resource_link_id,
        "user": scope.user_id,
    }


def write(app: Any, ids: dict[str, Any], count: int, batch: int = 200) -> None:
    database, jobs = app.extensions["bridge.runtime"].database, app.extensions["bridge.jobs"]
    for start in range(0, count, batch):
        with database.transaction() as session:
            for _ in range(min(batch, count - start)):
                entry = ledger.append(session, completion_entry(ids))
                jobs.record(session, entry)


def start_worker(var_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BRIDGE_SECRET_KEY": SECRET,
        "BRIDGE_DATABASE_URL": f"sqlite:///{var_dir / 'bridge.db'}",
        "BRIDGE_VAR_DIR": str(var_dir),
        "BRIDGE_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-c", "from bridge.cli import main; main()", "worker"]
    return subprocess.Popen(command, env=env)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_rss_mb(worker: subprocess.Popen[bytes]) -> float:
    """Resident memory of the worker and its child processes."""
    pids = [worker.pid]
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    return sum(rss_mb(pid) for pid in pids)


def floor(target: Target, count: int) -> float:
    session = requests.Session()
    body = {
        "userId": "learner-1",
        "scoreGiven": 100,
        "scoreMaximum": 100,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "comment": "Criteria met: Start 1 threads",
    }
    headers = {
        "Authorization": "Bearer bench-token",
        "Content-Type": "application/vnd.ims.lis.v1.score+json",
    }
    started = time.perf_counter()
    for _ in range(count):
        body["timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        session.post(
            f"{target.url}/lineitems/1/scores", json=body, headers=headers, timeout=10
        ).raise_for_status()
    elapsed = time.perf_counter() - started
    target.wait_for(count, 60)
    return count / elapsed


def latency(app: Any, ids: dict[str, Any], target: Target, samples: int) -> list[float]:
    database, jobs = app.extensions["bridge.runtime"].database, app.extensions["bridge.jobs"]
    delays = []
    for _ in range(samples):
        time.sleep(1.0)  # the worker goes idle (its polling backs off to worker_poll_seconds)
        with database.transaction() as session:
            entry = ledger.append(session, completion_entry(ids))
            jobs.record(session, entry)
            recorded = entry.recorded_at.timestamp()
        ((_comment, at),) = target.wait_for(1, 30)
        delays.append(at - recorded)
    return delays


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ours(
    app: Any, ids: dict[str, Any], target: Target, var_dir: Path, count: int
) -> tuple[float, list[float], subprocess.Popen[bytes]]:
    write(app, ids, count)
    worker = start_worker(var_dir)
    memory: list[float] = []

    def sample(got: int) -> None:
        if got >= (len(memory) + 1) * 1000:
            memory.append(worker_rss_mb(worker))

    started = time.perf_counter()
    target.wait_for(count, 900, sample)
    return count / (time.perf_counter() - started), memory, worker


def run(completions: int, latency_ms: float, samples: int) -> dict[str, Any]:
    """One comparison against a target answering in ``latency_ms``; latency when ``samples``."""
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        target = Target(var_dir, latency_ms)
        try:
            app, ids = set_up(var_dir, target.url)
            floor_rate = floor(target, completions)
            ours_rate, memory, worker = ours(app, ids, target, var_dir, completions)
            delays = latency(app, ids, target, samples) if samples else []
            worker.send_signal(signal.SIGTERM)
            worker.wait()
        finally:
            target.close()
    return {"floor": floor_rate, "ours": ours_rate, "memory": memory, "delays": delays, "app": app}


def report(title: str, completions: int, found: dict[str, Any]) -> None:
    settings = found["app"].extensions["bridge.runtime"].settings
    print(f"== {title}: {completions} completions")
    print(f"floor (serial requests.Session loop): {found['floor']:8.1f} scores/s")
    print(
        f"ours  (bridge worker, {settings.worker_processes} processes x "
        f"{settings.worker_threads} threads): {found['ours']:8.1f} scores/s"
    )
    print(f"ratio ours/floor: {found['ours'] / found['floor']:.2f}  (goal >= 1.0)")
    print(
        "worker RSS MB (all processes) every 1,000 deliveries: "
        + ", ".join(f"{m:.0f}" for m in found["memory"])
    )
    delays = found["delays"]
    if delays:
        print(
            f"event -> score latency over {len(delays)} single completions: "
            f"p50 {statistics.median(delays) * 1000:.0f} ms, "
            f"p95 {percentile(delays, 0.95) * 1000:.0f} ms (goal p95 < 2000 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=10_000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument(
        "--platform-ms",
        type=float,
        default=20,
        help="the second run's target answers each score in this many ms (default 20)",
    )
    parser.add_argument(
        "--platform-completions",
        type=int,
        default=2_000,
        help="completions in the second run (its serial floor takes platform-ms each)",
    )
    args = parser.parse_args()
    instant = run(args.completions, 0, args.latency_samples)
    report("instant platform (answers at once)", args.completions, instant)
    if args.platform_ms:
        slower = run(args.platform_completions, args.platform_ms, 0)
        report(f"platform answering in {args.platform_ms:g} ms", args.platform_completions, slower)


if __name__ == "__main__":
    main()
