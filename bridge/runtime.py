"""The per-application services (settings, database, cache, secrets) that requests and CLI share."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import current_app
from flask_caching import Cache

from bridge.db import Database
from bridge.sessions import SessionTokens
from bridge.vault import SecretBox, get_or_create_secret
from config import Settings

EXTENSION_KEY = "bridge.runtime"
SESSION_SECRET_NAME = "session-token-secret"  # noqa: S105 - the name of a secret, not one


@dataclass
class Runtime:
    settings: Settings
    database: Database
    cache: Cache
    box: SecretBox
    _tokens: SessionTokens | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def session_tokens(self) -> SessionTokens:
        """The token signer, with its secret read once from the database (created on first use)."""
        with self._lock:
            if self._tokens is None:
                with self.database.transaction() as session:
                    secret = get_or_create_secret(session, self.box, SESSION_SECRET_NAME)
                self._tokens = SessionTokens(secret, int(self.settings.session_hours * 3600))
            return self._tokens


def runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]
