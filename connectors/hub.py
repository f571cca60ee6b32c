"""The worker's view of the connectors: build the configured target and deliver one claim.

Instances are cached per connector setting (and rebuilt when the setting changes), so an HTTP
session and its connections are reused across deliveries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from bridge.delivery.outbox import Claim
from connectors.base import ConfigError, Connector, Outcome, Rejected, Runtime


class ConnectorHub:
    def __init__(self, registry: Mapping[str, type[Connector]], runtime: Runtime) -> None:
        self._registry = registry
        self._runtime = runtime
        self._instances: dict[str, Connector] = {}
        self._lock = threading.Lock()

    def deliver(self, claim: Claim) -> Outcome:
        connector = self._instance(claim)
        if isinstance(connector, Rejected):
            return connector
        return connector.deliver(claim.item)

    def _instance(self, claim: Claim) -> Connector | Rejected:
        with self._lock:
            found = self._instances.get(claim.setting_key)
            if found is not None:
                return found
            cls = self._registry.get(claim.connector)
            if cls is None:
                return Rejected(f"no connector named {claim.connector!r} in this version")
            try:
                instance = cls({**claim.config, **claim.secrets}, self._runtime)
            except ConfigError as error:
                return Rejected(f"the {claim.connector} settings are not valid: {error}")
            self._instances[claim.setting_key] = instance
            return instance


def hub_factory(
    registry: Mapping[str, type[Connector]], runtime: Callable[[], Runtime]
) -> Callable[[], ConnectorHub]:
    """A lazy factory: the worker builds the hub (and its HTTP session) on first delivery."""
    return lambda: ConnectorHub(registry, runtime())
