"""The core: app factory, database and migrations, tenancy, sessions, events, errors, CLI.

May import ``config`` only; the composition root (``bridge.app``) is the one exception.
"""
