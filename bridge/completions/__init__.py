"""Completion rules per placement, learners' progress, and the completions they earn.

Rules evaluate on each activity event (the composition root subscribes ``on_event`` to the bus);
reaching a rule's criteria writes a ``Completion`` and a ledger entry (with its outbox rows) in the
transaction of the event itself.
"""
