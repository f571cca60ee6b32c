"""The built-in sandbox LMS (``BRIDGE_SANDBOX=1`` only): a registered LTI 1.3 platform like any
other, with its own keys and issuer, that launches the tool through the real OIDC login and a
signed id_token. It exists for development and demos; production leaves it off."""
