"""Cross-site browser set-up: the tool over HTTPS on 127.0.0.1, the sandbox LMS over http on
localhost (two sites), and Debian's Chromium driven by Playwright with a profile whose
preferences block third-party cookies (or every cookie of the tool).

Nothing here downloads anything: Chromium is Debian's package (`make test` installs it), never
`playwright install`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import importlib.util
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from config import environ_flag

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Chromium's `profile.cookie_controls_mode`: 0 allows third-party cookies, 1 blocks them.
ALLOW_THIRD_PARTY = 0
BLOCK_THIRD_PARTY = 1
# A content setting of 2 (CONTENT_SETTING_BLOCK) refuses every cookie of the origin.
CONTENT_SETTING_BLOCK = 2
TIMEOUT_MS = 10_000
LAUNCH_TIMEOUT_MS = 30_000  # a loaded 2-core CI machine can take over 15 s for the three legs
STATE_COOKIE_PREFIX = "lti1p3-state-"
# Run in the tool's frame: try an unpartitioned and a Partitioned third-party cookie (both
# `Secure; SameSite=None`, as a tool would need them), then read back what the browser kept.
COOKIE_PROBE_JS = """() => {
  document.cookie = "probe_plain=1; Secure; SameSite=None; Path=/";
  document.cookie = "probe_partitioned=1; Secure; SameSite=None; Path=/; Partitioned";
  return document.cookie;
}"""


def browser_missing_reason() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (`make install` adds it)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (`make test` installs Debian's chromium)"
    return None


def require_browser() -> None:
    """Skip when Chromium or Playwright is missing; fail instead with BRIDGE_REQUIRE_SERVICES=1."""
    reason = browser_missing_reason()
    if reason is None:
        return
    if environ_flag("REQUIRE_SERVICES"):
        pytest.fail(f"Browser tests cannot run: {reason}, and BRIDGE_REQUIRE_SERVICES=1")
    pytest.skip(f"Browser tests skipped: {reason}")


# -- TLS ------------------------------------------------------------------------------------------


def self_signed_certificate(directory: Path, ip: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throw-away certificate for ``ip`` (SAN IP) and its key, as PEM files in ``directory``."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tool-cert.pem", directory / "tool-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def spki_sha256(cert_path: Path) -> str:
    """Base64 SHA-256 of the certificate's public key, for ``--ignore-certificate-errors-spki-list``
    (Chromium then trusts this one certificate at the network level; without it every connection
    first fails its handshake with an "unknown certificate" alert before Playwright's
    ``ignore_https_errors`` lets the request through)."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    public_key = x509.load_pem_x509_certificate(cert_path.read_bytes()).public_key()
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


class _LazyHandshakeContext(ssl.SSLContext):
    """Does each TLS handshake in the connection's own thread, on its first read.

    Werkzeug wraps the listening socket, so by default ``accept()`` does the handshake in the one
    serving thread: a browser's idle preconnection would then stall every other request.
    """

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["do_handshake_on_connect"] = False
        return super().wrap_socket(sock, *args, **kwargs)


def server_ssl_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = _LazyHandshakeContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


# -- servers --------------------------------------------------------------------------------------


def _not_ready(environ: Any, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


class ThreadedServer:
    """A werkzeug server bound first (port 0, so no port race); the app is attached once built."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, _not_ready, threaded=True, ssl_context=ssl_context
        )
        self.port: int = self._server.port
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> None:
        self._server.app = app
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving (bounded) and release the port; safe to call twice."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._server.shutdown()
            thread.join(timeout=5)
        self._server.server_close()


@dataclass(frozen=True)
class CrossSite:
    """The two sites of a cross-site launch and the app objects behind them."""

    tool_url: str  # https://127.0.0.1:P1 — the tool, framed by the sandbox
    sandbox_origin: str  # http://localhost:P2 — the LMS page that frames the tool
    tool_app: Any
    sandbox_app: Any
    tool_spki: str  # see spki_sha256

    @property
    def sandbox_url(self) -> str:
        return self.sandbox_origin + "/sandbox"

    def launch_url(self, course: str, user: str, widget: str) -> str:
        return f"{self.sandbox_url}/launch?course={course}&user={user}&widget={widget}"


# -- Chromium profile and launch -----------------------------------------------------------------


def write_profile(
    user_data_dir: Path, cookie_controls_mode: int, blocked_origins: tuple[str, ...] = ()
) -> Path:
    """Write ``Default/Preferences`` before Chromium starts: its cookie controls are read there."""
    profile: dict[str, Any] = {"cookie_controls_mode": cookie_controls_mode}
    if blocked_origins:
        profile["content_settings"] = {
            "exceptions": {
                "cookies": {
                    f"{origin},*": {"setting": CONTENT_SETTING_BLOCK} for origin in blocked_origins
                }
            }
        }
    preferences = user_data_dir / "Default" / "Preferences"
    preferences.parent.mkdir(parents=True, exist_ok=True)
    preferences.write_text(json.dumps({"profile": profile}), encoding="utf-8")
    return preferences


@dataclass
class BrowserRun:
    """One persistent Chromium context with one page, and what its frames logged."""

    context: Any
    page: Any
    artifacts: Path
    console: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, url)
    page_errors: list[str] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)

    def console_errors(self, expected: tuple[str, ...] = ()) -> list[str]:
        """Console messages of type "error" and uncaught exceptions not matching ``expected``."""
        found = [f"{text} ({url})" for kind, text, url in self.console if kind == "error"]
        found += [f"uncaught: {text}" for text in self.page_errors]
        return [line for line in found if not any(part in line for part in expected)]

    def tool_frame(self) -> Any:
        """The Frame object behind ``#tool-frame`` (to evaluate script in the tool's origin)."""
        return self.page.locator("#tool-frame").element_handle().content_frame()

    def screenshot(self, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(path), full_page=True, timeout=5_000)
        return path

    @contextlib.contextmanager
    def failure_screenshot(self, name: str) -> Iterator[None]:
        """Turn any failure inside into an AssertionError naming a screenshot of the page."""
        try:
            yield
        except Exception as exc:
            path = self.screenshot(name)
            raise AssertionError(f"{exc}\n{self.describe_frames()}\nscreenshot: {path}") from exc

    def describe_frames(self) -> str:
        """Each frame's URL and the start of its text, for failure messages."""
        lines = []
        for frame in self.page.frames:
            text = ""
            with contextlib.suppress(Exception):
                text = " ".join(frame.inner_text("body", timeout=1_000).split())[:300]
            lines.append(f"frame {frame.url}: {text}")
        return "\n".join(lines)

    def open_launch(self, url: str) -> str:
        """Open a sandbox course page and wait until its tool frame settles: "ok", "failed" (the
        shell's API call) or "error" (an error page of the tool). Raises on timeout."""
        self.page.goto(url)
        settled = self.page.frame_locator("#tool-frame").locator(
            "#api-status[data-state], main.page--error"
        )
        settled.wait_for(timeout=LAUNCH_TIMEOUT_MS)
        return settled.get_attribute("data-state") or "error"

    def requests_to(self, prefix: str) -> list[Any]:
        """Requests whose URL starts with ``prefix`` (made by any frame), in order."""
        return [response.request for response in self.responses if response.url.startswith(prefix)]

    def cookies_of(self, host: str) -> list[dict[str, Any]]:
        return [cookie for cookie in self.context.cookies() if cookie["domain"] == host]


@contextlib.contextmanager
def chromium_run(
    playwright: Any,
    directory: Path,
    cookie_controls_mode: int,
    blocked_origins: tuple[str, ...] = (),
    trusted_spki: str = "",
    bypass_csp: bool = False,
) -> Iterator[BrowserRun]:
    """A fresh profile written with the given cookie controls, launched headless, closed after.

    ``bypass_csp`` switches the pages' Content-Security-Policy off (for tests that must show the
    page itself is safe, not only that the policy caught what it let through)."""
    user_data_dir = directory / "profile"
    write_profile(user_data_dir, cookie_controls_mode, blocked_origins)
    context = playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=CHROMIUM,
        headless=True,
        ignore_https_errors=True,
        args=[
            *CHROMIUM_ARGS,
            *([f"--ignore-certificate-errors-spki-list={trusted_spki}"] if trusted_spki else []),
        ],
        timeout=30_000,
        bypass_csp=bypass_csp,
    )
    try:
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        page = context.pages[0] if context.pages else context.new_page()
        run = BrowserRun(context=context, page=page, artifacts=directory)
        page.on(
            "console", lambda m: run.console.append((m.type, m.text, m.location.get("url", "")))
        )
        page.on("pageerror", lambda error: run.page_errors.append(str(error)))

        def keep_response(response: Any) -> None:  # Playwright cannot wrap a builtin method
            run.responses.append(response)

        page.on("response", keep_response)
        yield run
    finally:
        with contextlib.suppress(Exception):
            context.close()


# -- axe-core (accessibility checks) -------------------------------------------------------------

AXE_VERSION = "4.14.1"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
NPM_TIMEOUT_SECONDS = 180
# Run in a frame once axe.min.js is loaded there: the WCAG 2.1 A/AA rules only; each violation
# with the nodes it was found on, ready to print.
AXE_RUN_JS = """async (tags) => {
  const results = await axe.run(document, { runOnly: tags, resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}"""


def axe_cache_dir() -> Path:
    """Outside the repository, shared by runs: ``$XDG_CACHE_HOME/social-bridge/axe/<version>``."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "social-bridge" / "axe" / AXE_VERSION


def _axe_unavailable(reason: str) -> None:
    if environ_flag("REQUIRE_SERVICES"):
        pytest.fail(f"axe-core is unavailable: {reason}, and BRIDGE_REQUIRE_SERVICES=1")
    pytest.skip(f"Accessibility checks skipped: {reason}")


def axe_core_script() -> str:
    """axe-core's ``axe.min.js`` (npm package ``axe-core``, pinned), installed with npm into the
    cache directory the first time. Skips when npm is missing or the install fails; fails instead
    with BRIDGE_REQUIRE_SERVICES=1."""
    target = axe_cache_dir()
    script = target / "node_modules" / "axe-core" / "axe.min.js"
    if script.is_file():
        return script.read_text(encoding="utf-8")
    npm = shutil.which("npm")
    if npm is None:
        _axe_unavailable("npm is missing (Debian's nodejs and npm packages provide it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Install beside the target and rename into place, so a concurrent run never sees half of it.
    staging = Path(tempfile.mkdtemp(prefix="install-", dir=target.parent))
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund",
             "--ignore-scripts", f"axe-core@{AXE_VERSION}"],
            capture_output=True, text=True, timeout=NPM_TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            _axe_unavailable(f"`npm install axe-core@{AXE_VERSION}` failed: {done.stderr[-500:]}")
        with contextlib.suppress(OSError):  # another run may have renamed its copy first
            staging.rename(target)
    except subprocess.TimeoutExpired:
        _axe_unavailable(f"`npm install` took longer than {NPM_TIMEOUT_SECONDS} s")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return script.read_text(encoding="utf-8")


def axe_violations(frame: Any, script: str) -> list[dict[str, Any]]:
    """Load axe into ``frame`` (evaluated through the DevTools protocol, which the page's CSP does
    not govern, so nothing about the page is loosened) and return its WCAG 2.1 AA violations."""
    if not frame.evaluate("() => typeof window.axe === 'object'"):
        frame.evaluate(script)
    return frame.evaluate(AXE_RUN_JS, WCAG_21_AA)


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {node['target']}: {node['summary']}" for node in violation["nodes"])
    return "\n".join(lines)
