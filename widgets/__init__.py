"""Widgets: one subpackage per widget; each emits events and never imports lti/ or connectors/."""
