"""Instructions per discussion API request against the framework floor, counted by valgrind.

Wall-clock throughput (bench/discussion.py) moves with whatever else runs on the machine; the
number of instructions a request executes does not. This script seeds a placement (1,000 threads
and 20,000 replies by default; SQLite), then runs the app in one process under Flask's test client
inside ``valgrind --tool=callgrind``: 50 warm-up requests, then N requests, once with N=0 and once
with N=--requests, for the thread list, a thread page (20 replies) and the floor (the same app
answering a precomputed body of the same size at a route of its own). Per request =
(total with N - total with 0) / N. It prints millions of instructions per request, ours minus the
floor, and floor/ours (the in-process counterpart of bench/discussion.py's ratio; gunicorn and the
load generator are left out, so it is lower). Deterministic to about +-0.1 M for the same code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

WARM_UP = 50
TARGETS = ("floor_thread", "list", "thread")


def prepare(workdir: Path, threads: int, replies: int) -> None:
    """Seed the placement once; the children read workdir/meta.json."""
    import discussion

    from tests.support import SqliteTemplate, make_app

    url = SqliteTemplate(workdir).copy_to(workdir)
    app = make_app(url, workdir / "var")
    token, thread_id = discussion.seed(app, threads, replies)
    app.extensions["bridge.runtime"].database.dispose()
    (workdir / "meta.json").write_text(
        json.dumps({"url": url, "token": token, "thread": thread_id})
    )


def load(workdir: Path) -> tuple[Any, str, str]:
    """The app on the seeded database, a freshly issued token (an old one would add a renewal to
    every response) and the thread's id."""
    from bridge.runtime import runtime
    from tests.support import make_app

    meta = json.loads((workdir / "meta.json").read_text())
    app = make_app(meta["url"], workdir / "var")
    with app.app_context():
        tokens = runtime().session_tokens()
        token = tokens.issue(tokens.verify(meta["token"]).scope)
    return app, token, meta["thread"]


def floor_body(workdir: Path) -> None:
    """The thread page's body, for the floor route to answer with."""
    app, token, thread = load(workdir)
    response = app.test_client().get(
        f"/api/v1/discussion/threads/{thread}", headers={"Authorization": f"Bearer {token}"}
    )
    (workdir / "thread.json").write_bytes(response.get_data())


def child(workdir: Path, target: str, requests: int) -> None:
    """Serve ``requests`` requests to ``target`` in process (run under valgrind)."""
    from flask import Response

    app, token, thread = load(workdir)
    body = (workdir / "thread.json").read_bytes()
    app.add_url_rule(
        "/bench-floor/thread", "floor_thread", lambda: Response(body, mimetype="application/json")
    )
    path = {
        "list": "/api/v1/discussion/threads?limit=20",
        "thread": f"/api/v1/discussion/threads/{thread}",
        "floor_thread": "/bench-floor/thread",
    }[target]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(WARM_UP):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
    for _ in range(requests):
        client.get(path, headers=headers)


def instructions(workdir: Path, target: str, requests: int) -> int:
    out = workdir / f"callgrind.{target}.{requests}"
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
         "--child", target, str(requests), "--workdir", str(workdir)],
        env={**os.environ, "PYTHONHASHSEED": "0", "BRIDGE_LOG_LEVEL": "WARNING"},
        check=True, capture_output=True, timeout=1800,
    )  # fmt: skip
    found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    if found is None:
        raise SystemExit(f"no instruction total in {out}")
    return int(found.group(1))


def per_request(workdir: Path, requests: int) -> dict[str, float]:
    """Instructions per request for each target (the six valgrind runs share the cores)."""
    runs = [(target, n) for target in TARGETS for n in (0, requests)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        totals = dict(
            zip(runs, pool.map(lambda run: instructions(workdir, *run), runs), strict=True)
        )
    return {t: (totals[t, requests] - totals[t, 0]) / requests for t in TARGETS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests counted per target")
    parser.add_argument("--threads", type=int, default=1_000)
    parser.add_argument("--replies", type=int, default=20_000)
    parser.add_argument("--child", nargs=2, metavar=("TARGET", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.workdir, args.child[0], int(args.child[1]))
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="bench-discussion-cost-") as tmp:
        workdir = Path(tmp)
        prepare(workdir, args.threads, args.replies)
        floor_body(workdir)
        print(f"{args.threads} threads, {args.replies} replies, SQLite; callgrind, "
              f"{args.requests} requests per target after {WARM_UP} of warm-up", flush=True)  # fmt: skip
        counts = per_request(workdir, args.requests)
    floor = counts["floor_thread"]
    print(f"{'request':<14}{'M instr/req':>13}{'above floor':>13}{'floor/ours':>12}")
    for target, count in counts.items():
        print(
            f"{target:<14}{count / 1e6:>13.2f}{(count - floor) / 1e6:>13.2f}{floor / count:>12.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
