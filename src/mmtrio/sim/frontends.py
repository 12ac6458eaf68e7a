"""The registry of the simulated venue's protocol front ends, by venue name.

Assembly, not engine: it names the front-end packages (``mmtrio.sim.<venue>``, each exporting
``FRONT_END``, a :class:`~mmtrio.sim.frontend.FrontEndFactory`) and imports one only when
asked for it. `mmtrio sim --venue NAME` and paper trading (``[venue] name``, ``mode =
"paper"``) pick the front end here. Add a line to ``_PACKAGES`` when a front end lands.
"""

from __future__ import annotations

import importlib
from typing import cast

from mmtrio.errors import ConfigError
from mmtrio.sim.frontend import FrontEndFactory

_PACKAGES: dict[str, str] = {
    "binance": "mmtrio.sim.binance.frontend",
    "okx": "mmtrio.sim.okx.frontend",
    "extended": "mmtrio.sim.extended.frontend",
    "hyperliquid": "mmtrio.sim.hyperliquid.frontend",
}


def names() -> tuple[str, ...]:
    """The venues with a simulated front end, sorted."""
    return tuple(sorted(_PACKAGES))


def factory(name: str) -> FrontEndFactory:
    """The front end for venue ``name``; an unknown name is refused listing the known ones."""
    module = _PACKAGES.get(name)
    if module is None:
        raise ConfigError(f"no simulated front end for venue {name!r}; known: {', '.join(names())}")
    return cast(FrontEndFactory, importlib.import_module(module).FRONT_END)
