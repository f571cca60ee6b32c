"""OIDC state without cookies: the LTI platform-storage postMessage protocol.

1EdTech "LTI Client Side postMessages" (``lti.capabilities``, ``lti.put_data``, ``lti.get_data``)
and the OIDC login with LTI platform storage implementation guide. When the login request carries
``lti_storage_target``, the login answers with a page whose script stores the state and nonce in
the platform's frame (target origin: the platform's OIDC auth origin), then continues to the auth
endpoint. When the launch then arrives without the state cookie (the browser refused it), the tool
parks the posted id_token under a one-time id and answers with a page that reads the state and
nonce back from the platform and completes the launch with that id. No Python library has this.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask_caching import Cache

PENDING_PREFIX = "lti-pending-launch:"
PENDING_LIFETIME_SECONDS = 120
# Both keys derive from the state, so the launch's read-back page never needs to show the nonce.
STATE_KEY_PREFIX = "lti1p3_state_"
NONCE_KEY_PREFIX = "lti1p3_nonce_"


@dataclass(frozen=True)
class StorageTarget:
    """Where the page's script sends its messages: a frame name and the origin it must answer from."""

    frame: str
    origin: str
    frame_ancestors: tuple[str, ...] = ()  # the registration's, for the launch's read-back page

    def as_params(self) -> dict[str, Any]:
        return {"frame": self.frame, "origin": self.origin, "ancestors": list(self.frame_ancestors)}

    @classmethod
    def from_params(cls, params: Any) -> StorageTarget | None:
        if not isinstance(params, dict) or not params.get("frame") or not params.get("origin"):
            return None
        ancestors = tuple(str(a) for a in params.get("ancestors") or ())
        return cls(
            frame=str(params["frame"]), origin=str(params["origin"]), frame_ancestors=ancestors
        )


@dataclass(frozen=True)
class PendingLaunch:
    id_token: str
    state: str


def park_launch(cache: Cache, launch: PendingLaunch) -> str:
    """Keep a posted launch for a moment under a one-time id while the page reads platform storage."""
    launch_id = secrets.token_urlsafe(32)
    cache.set(
        PENDING_PREFIX + launch_id,
        {"id_token": launch.id_token, "state": launch.state},
        timeout=PENDING_LIFETIME_SECONDS,
    )
    return launch_id


def take_launch(cache: Cache, launch_id: str) -> PendingLaunch | None:
    """Remove and return a parked launch (single use); None when unknown or expired."""
    if not launch_id or len(launch_id) > 100:
        return None
    key = PENDING_PREFIX + launch_id
    stored = cache.get(key)
    if not isinstance(stored, dict):
        return None
    cache.delete(key)
    return PendingLaunch(id_token=str(stored["id_token"]), state=str(stored["state"]))


class StorageCheckNeeded(Exception):  # noqa: N818 - a signal to the view, not an error
    """The launch came without the state cookie, from a login that used platform storage."""

    def __init__(self, target: StorageTarget, state: str) -> None:
        super().__init__("state must be read back from platform storage")
        self.target, self.state = target, state
