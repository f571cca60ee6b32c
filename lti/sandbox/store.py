"""The sandbox LMS's own state: gradebook columns and scores, access tokens, used assertion ids.

Kept in one JSON file, ``<var_dir>/sandbox/state.json``, not in the product's database (the
sandbox adds no tables to its schema) and not in the app's shared cache: the token endpoint's
``jti`` check must be an atomic check-and-record (``FileSystemCache.add`` is not atomic), a score
is a read-modify-write of its line item, and a gradebook must not expire or be evicted with
cache entries. Every change runs under an exclusive ``flock`` on a lock file beside it and
replaces the file atomically, so any number of web processes on the host (and ``bridge worker``,
which only calls the sandbox over HTTP) see one consistent gradebook that survives restarts.
One host only, POSIX only: the sandbox is for development.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from config import Settings

STATE_FILE = "state.json"
LOCK_FILE = "state.lock"


def empty_state() -> dict[str, Any]:
    # lineitems: {course key: {item id: item}}; tokens: {sha256: grant}; jtis: {"iss jti": exp}
    return {"lineitems": {}, "tokens": {}, "jtis": {}}


class SandboxStore:
    """The state file of one sandbox (one per ``var_dir``)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._path = directory / STATE_FILE

    @classmethod
    def of(cls, settings: Settings) -> SandboxStore:
        return cls(settings.var_path / "sandbox")

    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        self._directory.mkdir(parents=True, exist_ok=True)
        with open(self._directory / LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock, mode)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> dict[str, Any]:
        try:
            state = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return empty_state()
        return {**empty_state(), **state} if isinstance(state, dict) else empty_state()

    def read(self) -> dict[str, Any]:
        """A snapshot of the state (for pages and reads)."""
        with self._locked(fcntl.LOCK_SH):
            return self._load()

    @contextmanager
    def change(self) -> Iterator[dict[str, Any]]:
        """The state, to change in place; written back when the block ends without an error."""
        with self._locked(fcntl.LOCK_EX):
            state = self._load()
            yield state
            _prune(state, time.time())
            handle, temporary = tempfile.mkstemp(dir=self._directory, suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(state, out, separators=(",", ":"))
                os.replace(temporary, self._path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise


def _prune(state: dict[str, Any], now: float) -> None:
    """Expired tokens and assertion ids are forgotten (a reused ``jti`` is refused until exp)."""
    state["tokens"] = {k: v for k, v in state["tokens"].items() if v["expires_at"] > now}
    state["jtis"] = {k: exp for k, exp in state["jtis"].items() if exp > now}
