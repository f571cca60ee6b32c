"""`bridge platform remove` once the platform's deployments have completion records."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bridge.completions.models import Completion
from bridge.delivery.models import OutboxItem
from bridge.ledger.models import LedgerEntry
from bridge.tenancy import service as tenancy
from bridge.tenancy.models import Deployment, Registration
from lti.sandbox.platform import DEPLOYMENT_ID
from tests.integration.test_completions import (
    COMPLETIONS,
    post_threads,
    sandbox_issuer,
)

ONE_THREAD = {"criteria": [{"key": "discussion.threads_started", "count": 1}]}


def counts(db_session) -> dict[str, int]:
    return {
        model.__name__: db_session.scalar(select(func.count()).select_from(model))
        for model in (Registration, Deployment, Completion, LedgerEntry, OutboxItem)
    }


def complete_one(launch, runner, db_session, *target: str) -> dict[str, int]:
    """A learner completes, delivered to a fake target (``target``: where it is configured)."""
    teacher, ada = launch("instructor"), launch("learner")
    result = runner.invoke(
        args=["connector", "set", "fake", "--issuer", sandbox_issuer(db_session), *target]
    )
    assert result.exit_code == 0, result.output
    assert teacher.call("PUT", f"{COMPLETIONS}/rules", json=ONE_THREAD).status_code == 200
    post_threads(ada, 1)
    before = counts(db_session)
    assert before["Completion"] == before["LedgerEntry"] == before["OutboxItem"] == 1
    return before


@pytest.mark.parametrize("target", [[], ["--deployment-id", DEPLOYMENT_ID]])
def test_platform_remove_refuses_cleanly_when_its_deployments_have_completions(
    member,
    runner,
    db_session,
    target,
):
    """An organisation-wide target's outbox rows used to fail the delete with an IntegrityError
    traceback; a deployment's own target let the cascade take completions and outbox rows."""
    before = complete_one(member, runner, db_session, *target)
    issuer = sandbox_issuer(db_session)

    result = runner.invoke(args=["platform", "remove", "--issuer", issuer, "--yes"])

    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert (
        "has completion records (1 completion, 1 ledger entry, 1 outbox row) and cannot be removed"
        in result.output
    )
    assert counts(db_session) == before
    asked = runner.invoke(args=["platform", "remove", "--issuer", issuer], input="y\n")
    assert asked.exit_code == 1 and "Remove " not in asked.output  # refused before asking
    assert counts(db_session) == before


def test_platform_remove_turns_a_late_integrity_error_into_the_same_refusal(
    member,
    runner,
    db_session,
    monkeypatch,
):
    """Rows the check did not see (written since, or in a table it does not count)."""
    before = complete_one(member, runner, db_session)
    real, calls = tenancy.completion_records, []

    def unseen_by_the_checks(*args):  # the CLI's check and the service's own
        calls.append(args)
        return tenancy.CompletionRecords(0, 0, 0) if len(calls) <= 2 else real(*args)

    monkeypatch.setattr(tenancy, "completion_records", unseen_by_the_checks)

    result = runner.invoke(
        args=["platform", "remove", "--issuer", sandbox_issuer(db_session), "--yes"]
    )

    assert len(calls) == 3, "the delete was not attempted"
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "has completion records (1 completion, 1 ledger entry, 1 outbox row)" in result.output
    assert counts(db_session) == before
