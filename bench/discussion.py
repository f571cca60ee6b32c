"""Discussion API throughput under load against the framework floor, measured in one run.

A course placement holds 10,000 threads and 200,000 replies (SQLite, the embedded default). The
thread list (GET /api/v1/discussion/threads, 20 per page) and a thread page (GET /threads/<id>, a
thread with 20 replies) are served by gunicorn with 2 workers and loaded by ``wrk`` with 16
concurrent connections over loopback. The FLOOR is the same Flask app, in the same gunicorn set-up,
answering a precomputed body of the same size at a route of its own: what the framework, server
and client cost with no work at all. The script prints requests per second and p95 latency for
each, and the ratio ours/floor. Performance is measured here, never asserted. ``--rounds N``
interleaves N ours-then-floor measurements per endpoint and prints medians, for a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from tests.support import SECRET, SqliteTemplate, make_app

THREADS = 10_000
REPLIES = 200_000
HOT_THREAD_REPLIES = 20
CONNECTIONS = 16
WRK_LUA = 'done = function(s, latency, r) io.write(string.format("P95_US %d\\n", latency:percentile(95))) end\n'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed(app: object, threads: int, replies: int) -> tuple[str, str]:
    """Launch-free seeding: one placement with its members, threads and replies; (token, thread id)."""
    from bridge.runtime import runtime
    from bridge.tenancy.models import (
        Context,
        Deployment,
        Membership,
        Organisation,
        Registration,
        ResourceLink,
        User,
    )
    from bridge.tenancy.rules import Access
    from bridge.tenancy.scope import Scope
    from widgets.discussion.models import Post, Thread

    with app.app_context():  # type: ignore[attr-defined]
        rt = runtime()
        ids = {name: uuid.uuid4() for name in ("org", "reg", "dep", "ctx", "link")}
        users = [uuid.uuid4() for _ in range(50)]
        with rt.database.transaction() as s:
            s.add(Organisation(id=ids["org"], name="Bench"))
            s.flush()
            s.add(Registration(id=ids["reg"], organisation_id=ids["org"], issuer="https://bench.example", client_id="bench",
                               auth_login_url="https://bench.example/auth", key_set_url="https://bench.example/jwks"))  # fmt: skip
            s.flush()
            s.add(
                Deployment(
                    id=ids["dep"], registration_id=ids["reg"], deployment_id="1", status="active"
                )
            )
            s.flush()
            s.add(
                Context(
                    id=ids["ctx"],
                    deployment_id=ids["dep"],
                    context_id="bench-course",
                    title="Bench",
                )
            )
            s.flush()
            s.add(
                ResourceLink(
                    id=ids["link"],
                    context_id=ids["ctx"],
                    resource_link_id="bench-link",
                    widget="discussion",
                )
            )
            s.add_all(
                User(id=u, issuer="https://bench.example", sub=f"u{n}", name=f"Learner {n}")
                for n, u in enumerate(users)
            )
            s.flush()
            s.add_all(
                Membership(context_id=ids["ctx"], user_id=u, access="participant", roles=[])
                for u in users
            )
        start = datetime.now(UTC) - timedelta(days=30)
        thread_ids = [uuid.uuid4() for _ in range(threads)]
        per_thread = max(1, replies // threads)
        with rt.database.transaction() as s:
            s.execute(insert(Thread), [
                {"id": t, "resource_link_id": ids["link"], "author_id": users[n % 50], "title": f"Thread {n} about cells",
                 "reply_count": per_thread, "created_at": start + timedelta(seconds=n), "last_activity_at": start + timedelta(seconds=n)}
                for n, t in enumerate(thread_ids)
            ])  # fmt: skip
            rows = []
            for n, t in enumerate(thread_ids):
                opening = uuid.uuid4()
                rows.append({"id": opening, "thread_id": t, "parent_id": None, "depth": 0, "author_id": users[n % 50],
                             "body": "Opening post", "body_html": "<p>Opening post</p>\n", "created_at": start + timedelta(seconds=n)})  # fmt: skip
                rows.extend({"id": uuid.uuid4(), "thread_id": t, "parent_id": opening, "depth": 1, "author_id": users[(n + k) % 50],
                             "body": f"Reply {k}", "body_html": f"<p>Reply {k} with some **text** to read.</p>\n",
                             "created_at": start + timedelta(seconds=n, milliseconds=k + 1)} for k in range(per_thread))  # fmt: skip
                if len(rows) >= 20_000:
                    s.execute(insert(Post), rows)
                    rows = []
            if rows:
                s.execute(insert(Post), rows)
        scope = Scope(
            ids["org"],
            ids["reg"],
            ids["dep"],
            ids["ctx"],
            ids["link"],
            users[0],
            Access.PARTICIPANT,
        )
        return rt.session_tokens().issue(scope), str(thread_ids[-1])


FLOOR_APP = """
from bridge.app import create_app
from flask import Response
app = create_app()
_BODIES = {name: open(path, "rb").read() for name, path in %r.items()}
for _name, _body in _BODIES.items():
    app.add_url_rule(f"/bench-floor/{_name}", f"floor_{_name}", (lambda b=_body: Response(b, mimetype="application/json")))
"""


def start_gunicorn(
    workdir: Path, env: dict[str, str], port: int, bodies: dict[str, str]
) -> subprocess.Popen:
    (workdir / "bench_app.py").write_text(FLOOR_APP % bodies)
    command = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", "2", "-b", f"127.0.0.1:{port}",
               "--chdir", str(workdir), "--log-level", "warning", "bench_app:app"]  # fmt: skip
    process = subprocess.Popen(
        command, env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def wrk(url: str, token: str, seconds: int, script: Path) -> tuple[float, float]:
    """(requests per second, p95 ms) with CONNECTIONS connections on 2 threads."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout  # fmt: skip
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} error responses\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p95 = int(re.search(r"P95_US (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    return rate, p95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="load duration per measurement")
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--replies", type=int, default=REPLIES)
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="measure ours then floor this many times per endpoint, interleaved; print medians "
        "(steadier figures on a machine shared with other work)",
    )  # fmt: skip
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian: apt-get install wrk; `make bench` installs it)")
    with tempfile.TemporaryDirectory(prefix="bench-discussion-") as tmp:
        workdir = Path(tmp)
        url = SqliteTemplate(workdir).copy_to(workdir)
        app = make_app(url, workdir / "var")
        began = time.perf_counter()
        token, thread_id = seed(app, args.threads, args.replies)
        print(
            f"seeded {args.threads} threads and {args.replies} replies in {time.perf_counter() - began:.1f} s"
        )
        client = app.test_client()
        auth = {"Authorization": f"Bearer {token}"}
        paths = {
            "list": "/api/v1/discussion/threads?limit=20",
            "thread": f"/api/v1/discussion/threads/{thread_id}",
        }
        bodies = {}
        for name, path in paths.items():
            response = client.get(path, headers=auth)
            assert response.status_code == 200, response.get_data(as_text=True)
            (workdir / f"{name}.json").write_bytes(response.get_data())
            bodies[name] = str(workdir / f"{name}.json")
        app.extensions["bridge.runtime"].database.dispose()
        env = {**os.environ, "BRIDGE_SECRET_KEY": SECRET, "BRIDGE_DATABASE_URL": url, "BRIDGE_VAR_DIR": str(workdir / "var"),
               "BRIDGE_LOG_LEVEL": "WARNING"}  # fmt: skip
        port = free_port()
        server = start_gunicorn(workdir, env, port, bodies)
        script = workdir / "p95.lua"
        script.write_text(WRK_LUA)
        rounds: dict[str, list[tuple[tuple[float, float], tuple[float, float]]]] = {
            name: [] for name in paths
        }
        try:
            for path in paths.values():
                wrk(f"http://127.0.0.1:{port}{path}", token, 2, script)  # warm-up
            for _ in range(args.rounds):
                for name, path in paths.items():
                    rounds[name].append((wrk(f"http://127.0.0.1:{port}{path}", token, args.seconds, script),
                                         wrk(f"http://127.0.0.1:{port}/bench-floor/{name}", token, args.seconds, script)))  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=10)
    results = {
        name: (
            (statistics.median(o[0] for o, _ in runs), statistics.median(o[1] for o, _ in runs)),
            (statistics.median(f[0] for _, f in runs), statistics.median(f[1] for _, f in runs)),
            statistics.median(o[0] / f[0] for o, f in runs),
        )
        for name, runs in rounds.items()
    }
    medians = f", medians of {args.rounds} interleaved rounds" if args.rounds > 1 else ""
    print(
        f"gunicorn 2 workers, wrk {CONNECTIONS} connections, {args.seconds} s each, SQLite{medians}"
    )
    print(
        f"{'endpoint':<10}{'ours req/s':>12}{'p95 ms':>9}{'floor req/s':>13}{'p95 ms':>9}{'ratio':>8}"
    )
    for name, ((ours, ours_p95), (floor, floor_p95), ratio) in results.items():
        print(
            f"{name:<10}{ours:>12.1f}{ours_p95:>9.1f}{floor:>13.1f}{floor_p95:>9.1f}{ratio:>8.2f}"
        )
    if args.rounds > 1:
        for name, runs in rounds.items():
            print(f"{name} ratio per round: " + " ".join(f"{o[0] / f[0]:.2f}" for o, f in runs))
    print("goal: ratio >= 0.5, thread page p95 < 50 ms")
    print(
        json.dumps(
            {
                k: {"ours_rps": v[0][0], "ours_p95_ms": v[0][1], "floor_rps": v[1][0]}
                for k, v in results.items()
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
