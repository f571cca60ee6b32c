"""Access logs never carry invitations, registration tokens or OIDC state."""

from __future__ import annotations

import logging

from bridge.logs import RedactSecrets


def test_secret_query_parameters_are_redacted_in_access_log_lines():
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s',
        ("127.0.0.1", "GET /lti/register?invitation=SECRET1&openid_configuration=https://x/&registration_token=SECRET2 HTTP/1.1", "403"),
        None,
    )  # fmt: skip
    RedactSecrets().filter(record)
    line = record.getMessage()
    assert "SECRET1" not in line and "SECRET2" not in line
    assert "invitation=[redacted]" in line and "openid_configuration=https://x/" in line
