"""Connectors: one module per delivery target behind one small interface, and a registry by name.

They arrive with the completions issue; nothing here yet.
"""
