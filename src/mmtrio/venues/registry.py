"""The venue registry: a venue's name → its package, imported only when asked for.

``[venue] name`` selects the package; the CLI asks the registry for its factory (the
:class:`~mmtrio.venues.protocol.VenueFactory` each package exports as ``VENUE`` from its
``venue`` module). The runtime imports only this module and the protocol, never a package,
so adding a venue touches no layer but ``venues/`` (and its front end in ``sim/``).
"""

from __future__ import annotations

import importlib

from mmtrio.errors import ConfigError
from mmtrio.venues.protocol import VenueFactory

_PACKAGES: dict[str, str] = {
    "binance": "mmtrio.venues.binance.venue",
    "okx": "mmtrio.venues.okx.venue",
    "extended": "mmtrio.venues.extended.venue",
    "hyperliquid": "mmtrio.venues.hyperliquid.venue",
}


def names() -> list[str]:
    """The known venue names, sorted."""
    return sorted(_PACKAGES)


def venue(name: str) -> VenueFactory:
    """The factory of venue ``name``; ConfigError listing the known names otherwise."""
    module_name = _PACKAGES.get(name)
    if module_name is None:
        raise ConfigError(f"unknown venue {name!r}; known venues: {', '.join(names())}")
    module = importlib.import_module(module_name)
    factory: VenueFactory = module.VENUE
    return factory
