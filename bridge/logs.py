"""Logging set-up shared by every process: secrets never reach the logs."""

from __future__ import annotations

import logging
import re

SECRET_QUERY = re.compile(r"((?:^|[?&])(?:invitation|registration_token|id_token|state)=)[^&\s\"]*")


class RedactSecrets(logging.Filter):
    """Blank secret query parameters in access-log lines (werkzeug logs the full request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                SECRET_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = SECRET_QUERY.sub(r"\1[redacted]", record.msg)
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    access = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactSecrets) for f in access.filters):
        access.addFilter(RedactSecrets())
