"""Full LTI 1.3 launches per second through Social Bridge against the bare library (the floor).

A launch is the three legs a browser drives, each over real HTTP on 127.0.0.1: GET /lti/login at
the tool (302 to the platform), the platform's OIDC auth endpoint (an independent
``lti1p3platform`` platform, which signs an RS256 id_token), and POST /lti/launch back at the tool
(200 with the widget page). Each tool is served by werkzeug's threaded HTTP server, the way
``bridge serve`` serves ours.

OURS is the real app (``tests.support.make_app``) on a fresh migrated SQLite file: login, launch
validation with the gaps of pylti1p3next closed (nonce consumed in the database, deployment and
tenancy upserts, session token, widget shell rendered from its template).

FLOOR is pylti1p3next used as its documentation shows and nothing else: stock ``FlaskOIDCLogin`` and
``FlaskMessageLaunch``, a ``ToolConfDict`` holding the same registration, ``FlaskCacheDataStorage``
over a Flask-Caching ``FileSystemCache`` (same settings as ours), and a tiny HTML page. The bare
library is the floor because it does the same protocol work (state, nonce, JWKS, RS256 signature,
claims) with no database, no tenancy and no templates; what Social Bridge adds costs the difference.
The stock key-set fetch is not cached by default, so ``set_public_key_caching`` is switched on with
the same data storage: both sides then verify against a cached JWKS after warm-up.

Each tool has its own peer platform (the same code and keys set-up), launches alternate between the
two so drift on a shared 2-core machine hits both, and each launch uses a fresh HTTP session (one
browser per launch, so the cookie jar does not grow). The time spent inside
``PeerPlatform.authenticate`` (the platform's HTTP round trip and signing) is reported separately:
it is the same work on both sides. Performance is measured here, never asserted.
"""

from __future__ import annotations

import argparse
import html
import logging
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from flask import Flask
from flask_caching import Cache
from pylti1p3.contrib.flask import (
    FlaskCacheDataStorage,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
)
from pylti1p3.tool_config import ToolConfDict
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.peer.platform import CLIENT_ID, DEPLOYMENT_ID, PeerPlatform
from tests.support import SqliteTemplate, make_app

WARM_UP = 5
OURS_MARKER = "You are signed in"
FLOOR_MARKER = "Floor launch ok"
KEY_SET_CACHE_SECONDS = 7200


@dataclass
class Samples:
    """Per-launch wall times (seconds): the whole launch and the peer's share of it."""

    total: list[float] = field(default_factory=list)
    peer: list[float] = field(default_factory=list)

    def tool(self) -> list[float]:
        return [t - p for t, p in zip(self.total, self.peer, strict=True)]


@dataclass
class Side:
    """One tool under test: its app served over HTTP, its platform, and its success marker."""

    name: str
    app: Flask
    marker: str
    peer: PeerPlatform
    server: BaseWSGIServer
    samples: Samples = field(default_factory=Samples)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.peer.close()


def serve(app: Flask, port: int) -> BaseWSGIServer:
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_ours(peer: PeerPlatform, workdir: Path) -> Flask:
    """Social Bridge on a fresh SQLite copy, with the peer registered and a tool key made."""
    template_dir = workdir / "template"
    template_dir.mkdir()
    url = SqliteTemplate(template_dir).copy_to(workdir)
    app = make_app(url, workdir / "var", public_url=peer.tool_base_url)
    runner = app.test_cli_runner()
    for args in (peer.cli_add_args(), ["keys", "ensure"]):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"bridge {' '.join(args[:2])} failed: {result.output}")
    return app


def floor_tool_conf(peer: PeerPlatform) -> ToolConfDict:
    """The same registration as ours, in pylti1p3's dictionary format."""
    return ToolConfDict(
        {
            peer.issuer: [
                {
                    "default": True,
                    "client_id": CLIENT_ID,
                    "auth_login_url": peer.base_url + "/auth",
                    "auth_token_url": peer.base_url + "/token",
                    "key_set_url": peer.base_url + "/jwks.json",
                    "key_set": None,
                    "deployment_ids": [DEPLOYMENT_ID],
                }
            ]
        }
    )


class FloorTool:
    """The bare library's login and launch views, as pylti1p3's Flask example writes them."""

    def __init__(self, conf: ToolConfDict, cache: Cache, launch_url: str) -> None:
        self._conf = conf
        self._cache = cache
        self._launch_url = launch_url

    def login(self) -> Response:
        storage = FlaskCacheDataStorage(self._cache)
        oidc = FlaskOIDCLogin(FlaskRequest(), self._conf, launch_data_storage=storage)
        return oidc.redirect(self._launch_url)

    def launch(self) -> str:
        storage = FlaskCacheDataStorage(self._cache)
        message = FlaskMessageLaunch(FlaskRequest(), self._conf, launch_data_storage=storage)
        message.set_public_key_caching(storage, cache_lifetime=KEY_SET_CACHE_SECONDS)
        data = message.validate().get_launch_data()
        name = html.escape(str(data.get("name", "")))
        return f"<!doctype html><title>Floor</title><p>{FLOOR_MARKER}, {name}.</p>"


def build_floor(peer: PeerPlatform, workdir: Path, threshold: int) -> Flask:
    """A minimal Flask app around stock pylti1p3, with the same cache settings as ours."""
    app = Flask("floor")
    cache = Cache(
        app,
        config={
            "CACHE_TYPE": "FileSystemCache",
            "CACHE_DIR": str(workdir / "floor-cache"),
            "CACHE_THRESHOLD": threshold,
            "CACHE_DEFAULT_TIMEOUT": 3600,
        },
    )
    tool = FloorTool(floor_tool_conf(peer), cache, peer.tool_base_url + "/lti/launch")
    app.add_url_rule("/lti/login", "login", tool.login, methods=["GET", "POST"])
    app.add_url_rule("/lti/launch", "launch", tool.launch, methods=["POST"])
    return app


def check(side: Side, response: requests.Response, step: str, status: int) -> None:
    if response.status_code != status:
        raise SystemExit(
            f"{side.name}: {step} answered {response.status_code}: {response.text[:500]}"
        )


def launch_once(side: Side) -> tuple[float, float]:
    """Drive one launch in a fresh browser over HTTP; (whole launch, peer's share) in seconds."""
    browser = requests.Session()
    login_url = side.peer.login_url()
    start = time.perf_counter()
    login = browser.get(login_url, allow_redirects=False, timeout=30)
    check(side, login, "login", 302)
    peer_start = time.perf_counter()
    action, fields = side.peer.authenticate(login.headers["Location"])
    peer_end = time.perf_counter()
    response = browser.post(action, data=fields, timeout=30)
    end = time.perf_counter()
    check(side, response, "launch", 200)
    if side.marker not in response.text:
        raise SystemExit(f"{side.name}: the launch page lacks {side.marker!r}")
    return end - start, peer_end - peer_start


def run(sides: list[Side], launches: int) -> None:
    """Warm up each side, then alternate timed launches (ABBA order) between them."""
    for side in sides:
        for _ in range(WARM_UP):
            launch_once(side)
    for index in range(launches):
        order = sides if index % 2 == 0 else sides[::-1]
        for side in order:
            total, peer_share = launch_once(side)
            side.samples.total.append(total)
            side.samples.peer.append(peer_share)


def summary(values: list[float]) -> tuple[float, float, float]:
    """(mean, p50, p95) in milliseconds."""
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return statistics.fmean(values) * 1e3, statistics.median(values) * 1e3, cuts[18] * 1e3


def report(ours: Side, floor: Side, launches: int) -> None:
    rows: list[tuple[str, Callable[[Samples], list[float]]]] = [
        ("launch", lambda s: s.total),
        ("  peer share", lambda s: s.peer),
        ("  tool side", Samples.tool),
    ]
    print(
        f"LTI 1.3 launch: {launches} timed launches per side after {WARM_UP} warm-up each, "
        "alternating sides, one fresh browser (HTTP session) per launch, real HTTP servers"
    )
    print(f"{'ms per launch':<24}{'mean':>9}{'p50':>9}{'p95':>9}")
    for side in (ours, floor):
        for label, pick in rows:
            mean, p50, p95 = summary(pick(side.samples))
            print(f"{side.name + ' ' + label:<24}{mean:>9.2f}{p50:>9.2f}{p95:>9.2f}")
    ours_rate = 1 / statistics.fmean(ours.samples.total)
    floor_rate = 1 / statistics.fmean(floor.samples.total)
    tool = statistics.fmean(ours.samples.tool()) / statistics.fmean(floor.samples.tool())
    print(
        f"launches per second, one browser at a time: ours {ours_rate:.1f}, floor {floor_rate:.1f}"
    )
    print(f"ratio ours/floor (launches per second): {ours_rate / floor_rate:.2f}  (goal >= 0.70)")
    print(f"tool time per launch, ours/floor (peer share removed): {tool:.2f}x")
    print(
        "floor = stock pylti1p3next FlaskOIDCLogin + FlaskMessageLaunch, ToolConfDict, "
        "FlaskCacheDataStorage on FileSystemCache; set_public_key_caching enabled on the floor "
        "(off by default in the library) so both sides use a cached platform JWKS."
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=200, help="timed launches per side")
    args = parser.parse_args()
    if args.launches < 2:
        parser.error("--launches must be at least 2")
    return args


def make_side(name: str, workdir: Path, threshold: int | None = None) -> Side:
    port = free_port()
    peer = PeerPlatform(tool_base_url=f"http://127.0.0.1:{port}")
    if name == "ours":
        app = build_ours(peer, workdir / name)
        marker = OURS_MARKER
    else:
        app = build_floor(peer, workdir, threshold or 200_000)
        marker = FLOOR_MARKER
    return Side(name, app, marker, peer, serve(app, port))


def main() -> int:
    args = parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # access logs are not timed work
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as tmp:
        workdir = Path(tmp)
        (workdir / "ours").mkdir()
        ours = make_side("ours", workdir)
        threshold = ours.app.extensions["bridge.runtime"].settings.cache_threshold
        floor = make_side("floor", workdir, threshold)
        try:
            run([ours, floor], args.launches)
        finally:
            for side in (ours, floor):
                side.close()
            ours.app.extensions["bridge.runtime"].database.dispose()
    report(ours, floor, args.launches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
