"""Shared hypothesis strategies for the core's property tests.

Each section is owned by the module it feeds; append new strategies at the end.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from mmtrio.core.events import Side
from mmtrio.core.instruments import BTCUSDT, ETHUSDT, Instrument

# --- instruments -------------------------------------------------------------------------

instruments = st.sampled_from([BTCUSDT, ETHUSDT])
sides = st.sampled_from([Side.BUY, Side.SELL])


@st.composite
def custom_instruments(draw: st.DrawFn) -> Instrument:
    """Instruments with arbitrary (but valid) tick, lot and notional settings."""
    tick_exp = draw(st.integers(min_value=-4, max_value=1))
    tick_mant = draw(st.sampled_from([1, 2, 5]))
    lot_exp = draw(st.integers(min_value=-4, max_value=0))
    min_qty = draw(st.integers(min_value=1, max_value=10))
    return Instrument(
        symbol="TESTUSDT",
        tick_size=Decimal(tick_mant).scaleb(tick_exp),
        lot_size=Decimal(1).scaleb(lot_exp),
        min_qty=min_qty,
        max_qty=min_qty * 100_000,
        min_notional=Decimal(draw(st.sampled_from([0, 5, 20, 100]))),
    )
