"""The worker's HTTP session: requests, with the environment read once per target origin.

``requests`` looks at the environment on every request (proxy variables and ``no_proxy`` through
``urllib``, and the CA bundle variables), which scans every variable of the process: a fifth of
the CPU time of a score delivery, measured with ``bench/delivery.py``. The environment of a
worker does not change while it runs, so the answer is kept per (scheme, host): the same
settings, resolved once.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies


class WorkerSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str], dict[str, str]] = {}
        self._lock = threading.Lock()
        self._ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")

    def _environ_proxies(self, url: str, no_proxy: str | None) -> dict[str, str]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy or "")
        with self._lock:
            found = self._environment.get(key)  # type: ignore[call-overload]
        if found is None:
            found = get_environ_proxies(url, no_proxy=no_proxy)
            with self._lock:
                self._environment[key] = found  # type: ignore[index]
        return found

    def merge_environment_settings(  # type: ignore[override]
        self,
        url: str,
        proxies: dict[str, str] | None,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> dict[str, Any]:
        """``requests.Session.merge_environment_settings`` with the environment cached."""
        if self.trust_env:
            no_proxy = proxies.get("no_proxy") if proxies is not None else None
            if proxies is not None:
                for key, value in self._environ_proxies(url, no_proxy).items():
                    proxies.setdefault(key, value)
            if verify is True or verify is None:
                verify = self._ca_bundle or verify
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }
