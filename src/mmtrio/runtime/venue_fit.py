"""The strategy's config, fitted to what the venue can do.

``quoting.amend_vs_replace = "amend"`` is a preference: on a venue without an amend (its
gateway declares ``Capabilities.amend = False``) the strategy replaces instead (cancel, then
a new order), and the start-up log says so once. The order budget is the venue's.
"""

from __future__ import annotations

import dataclasses

from loguru import logger

from mmtrio.config import Config
from mmtrio.config.strategy import build_strategy_config
from mmtrio.core.instruments import Instrument
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.venues.protocol import Capabilities


def strategy_config(
    cfg: Config,
    instrument: Instrument,
    *,
    orders_per_minute: int,
    capabilities: Capabilities,
    log: bool = False,
) -> StrategyConfig:
    """``build_strategy_config`` for this venue (ConfigError names what does not fit)."""
    strat = build_strategy_config(cfg, instrument, orders_per_minute=orders_per_minute)
    if strat.use_amend and not capabilities.amend:
        if log:
            logger.info(
                "the venue has no amend: quotes are replaced (cancel, then new) although "
                "quoting.amend_vs_replace = 'amend'"
            )
        strat = dataclasses.replace(strat, use_amend=False)
    return strat
