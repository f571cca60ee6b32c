"""The benchmark's AGS-style platform: a token endpoint and ``POST <lineitem>/scores``.

Served by gunicorn (threaded workers, keep-alive) like a production LMS front end; with
``BENCH_LATENCY_MS`` each score takes that long to answer, as a real gradebook write does. Each score's
arrival is appended to the file named by ``BENCH_RECEIPTS`` as "<comment> <unix time>" (one
small O_APPEND write per line: lines from concurrent workers never interleave).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

#: Milliseconds every score request takes at this "platform" (BENCH_LATENCY_MS; 0: instant).
LATENCY = float(os.environ.get("BENCH_LATENCY_MS", "0")) / 1000

TOKEN = json.dumps({"access_token": "bench-token", "token_type": "Bearer", "expires_in": 3600})


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if environ["PATH_INFO"] == "/token":
        payload = TOKEN.encode()
    else:
        if LATENCY:
            time.sleep(LATENCY)  # what an LMS spends storing a grade (Canvas, Moodle: tens of ms)
        comment = json.loads(body).get("comment", "").replace("\n", " ")
        line = f"{comment} {time.time():.6f}\n".encode()
        descriptor = os.open(os.environ["BENCH_RECEIPTS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
        payload = b"{}"
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]
