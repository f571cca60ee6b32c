"""Connectors: one module per delivery target behind one small interface, and a registry by name.

``base`` holds the interface (``Connector``: ``deliver`` never raises, subclasses implement
``_send``) and the shared HTTP mapping; ``registry.CONNECTORS`` lists every target by name: the
LTI AGS gradebook (``ags``), an xAPI learning record store (``xapi``), a signed webhook
(``webhook``), and a recording fake for tests and the sandbox (``fake``).
"""
