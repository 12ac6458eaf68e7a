"""The bot on the simulated Hyperliquid venue quotes in the venue's real price steps.

The recording trades near 61,800 where Hyperliquid's 5-significant-figure step is 1 USDC
(the finest step, 6 − szDecimals = 3 decimals, is 0.001). The instrument the core sees has
tick 1, so ``min_half_spread_ticks = 16`` keeps each quote at least 16 USDC from the mid the
quotes were centred on, and the quotes rest away from the touch (QA: with tick 0.001 the
half spread was 0.016 USDC and the bot quoted at best bid/ask).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio

from mmtrio.core.events import Side
from tests.integration.paper import paper_engine
from tests.integration.test_run_engine import (
    quotes_resting,
    run_engine,
    venue_open,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.integration
MIN_HALF_SPREAD_TICKS = 16  # the shipped config.toml's [quoting] value


async def test_quotes_keep_the_min_half_spread_in_the_venues_steps(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, speed=1.0, overrides={'name = "binance"': 'name = "hyperliquid"'})
    assert f"min_half_spread_ticks = {MIN_HALF_SPREAD_TICKS} " in cfg.read_text()
    engine = paper_engine(cfg)
    codes: list[int] = []
    samples: list[tuple[Decimal, Decimal, Decimal, Decimal]] = []  # bid, ask, best bid, best ask
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 60, "quotes on the simulated Hyperliquid venue")
        mm = engine.mm
        assert mm is not None
        inst = mm.instrument
        assert inst.tick_size == Decimal(1) and inst.sig_figs == 5  # not 0.001
        assert inst.price_str(61800) == "61800"  # the screen prints no 61800.000
        sim = engine.sim_venue
        sim_inst = sim.engine.instrument  # the recording's (tick 0.1): the venue's own prices

        def sample() -> None:
            orders = venue_open(engine)
            bids = [o.price for o in orders if o.side is Side.BUY]
            asks = [o.price for o in orders if o.side is Side.SELL]
            best_bid, best_ask = sim.book.best()
            if bids and asks and best_bid is not None and best_ask is not None:
                px = sim_inst.ticks_to_price
                samples.append((px(max(bids)), px(min(asks)), px(best_bid[0]), px(best_ask[0])))

        for _ in range(40):
            sample()
            await trio.sleep(0.25)
        await wait_for(lambda: len(samples) >= 20, 30, "two-sided quotes to sample")
        engine.request_stop("test stop")
    assert codes and codes[0] in (0, 3)
    step = Decimal(1)  # the venue's step at 61,800: the bot's tick
    half = MIN_HALF_SPREAD_TICKS * step
    for bid, ask, _, _ in samples:
        # The quotes are centred on the model's price (the skew moves the centre, never the
        # half spread below its minimum), so they are at least two half spreads apart.
        assert ask - bid >= 2 * half, (bid, ask)
        assert bid % step == 0 and ask % step == 0  # on the venue's grid at this price
    # (How far each quote sits from the mid is not an invariant: the inventory skew moves
    # the centre, and the market can run towards a quote between two requotes. A share of
    # samples "away from the mid" failed under load in the README suite; the spread above is
    # the invariant, and the QA's quotes at the touch, 1 step apart, break it.)
