"""The delivery item's criteria: what learners read (an AGS comment), not the internal keys."""

from __future__ import annotations

from bridge.delivery.outbox import _described_criteria
from bridge.ledger.models import LedgerEntry


def entry(met: list[str], evidence: dict) -> LedgerEntry:
    return LedgerEntry(criteria_met=met, evidence=evidence)


def test_criteria_met_are_the_labels_the_entry_recorded_when_it_has_them():
    recorded = entry(
        ["discussion.threads_started", "discussion.peer_replies"],
        {
            "discussion.threads_started": {"label": "Threads to start: 2", "required": 2},
            "discussion.peer_replies": {"label": "Replies to peers' posts: 1", "required": 1},
        },
    )
    assert _described_criteria(recorded) == ("Threads to start: 2", "Replies to peers' posts: 1")


def test_criteria_met_fall_back_to_the_keys_when_an_older_entry_has_no_labels():
    older = entry(
        ["discussion.threads_started", "discussion.peer_replies"],
        {"discussion.threads_started": {"required": 1}, "discussion.peer_replies": {"label": ""}},
    )
    assert _described_criteria(older) == ("discussion.threads_started", "discussion.peer_replies")
    assert _described_criteria(entry(["discussion.threads_started"], {})) == (
        "discussion.threads_started",
    )
