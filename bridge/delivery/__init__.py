"""Delivery of ledger entries: connector settings, the transactional outbox, the worker."""
