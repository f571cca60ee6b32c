"""schemathesis over the widget API's OpenAPI spec (discussion and completions): whatever is
sent, never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.integration.conftest import sandbox_launch, session_token

EXAMPLES_PER_OPERATION = 12


def test_discussion_api_never_answers_a_server_error(browser, live):
    status, text = sandbox_launch(browser, live, "bio101", "instructor", "discussion")
    assert status == 200
    headers = {"Authorization": f"Bearer {session_token(text)}"}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", live.app)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith("/api/v1/")]
    assert len(operations) >= 15
    assert any(op.path.startswith("/api/v1/completions") for op in operations)
    failures: list[str] = []
    statuses: list[int] = []
    for operation in operations:

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def probe(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
                )

        probe()
    if failures:
        pytest.fail("server errors:\n" + "\n".join(failures[:20]))
    assert len(statuses) >= 2 * len(operations)  # the probes really ran
    assert any(200 <= code < 300 for code in statuses) and any(
        400 <= code < 500 for code in statuses
    )
