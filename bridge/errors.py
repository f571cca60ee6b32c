"""One error model: a stable snake_case ``code``, an HTTP status, a message and details.

Code below the web layer raises these; ``bridge.web`` is the one place that turns them into a JSON
envelope (API) or a page that renders inside the LMS frame. Messages here are English defaults for
logs; the web layer shows the translated text registered for the code.
"""

from __future__ import annotations

from typing import Any


class BridgeError(Exception):
    code = "error"
    http_status = 400

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        http_status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.__class__.__doc__ or self.code
        if code:
            self.code = code
        if http_status:
            self.http_status = http_status
        self.details = details or {}
        super().__init__(self.message)


class InvalidInputError(BridgeError):
    """The request is not valid."""

    code = "invalid_input"
    http_status = 422


class NotFoundError(BridgeError):
    """Nothing here matches the request."""

    code = "not_found"
    http_status = 404


class ForbiddenError(BridgeError):
    """You may not do this."""

    code = "forbidden"
    http_status = 403


class UnauthorizedError(BridgeError):
    """The session is missing, expired or not valid."""

    code = "unauthorized"
    http_status = 401


class ConflictError(BridgeError):
    """The request conflicts with the current state."""

    code = "conflict"
    http_status = 409


class LaunchError(BridgeError):
    """The LTI launch is not valid."""

    code = "invalid_launch"
    http_status = 400


class DeploymentPendingError(LaunchError):
    """This deployment is waiting for a tool administrator to activate it."""

    code = "deployment_pending"
    http_status = 403


class RateLimitedError(BridgeError):
    """Too many requests; try again after ``retry_after`` seconds."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str = "", *, retry_after: int, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = max(1, retry_after)
        self.details.setdefault("retry_after", self.retry_after)
