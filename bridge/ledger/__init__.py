"""The append-only, hash-chained ledger of completions and progress updates (opaque ids only)."""
