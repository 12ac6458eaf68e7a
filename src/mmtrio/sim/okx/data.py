"""The shipped recordings said as OKX swaps: the symbol, the contract size, the size unit.

No public OKX recording could be found that this machine can reach (VENUES.md, "Data for
the simulated front ends"), so the simulated OKX venue replays the shipped Binance USD-M
recordings in OKX's terms. The shared engine trades the recording's instrument (ticks, and
lots of the base asset); this front end says it the way OKX lists a USDT swap:

- ``BTCUSDT`` is ``BTC-USDT-SWAP`` and ``ETHUSDT`` ``ETH-USDT-SWAP``, with OKX's contract
  values (``ctVal`` 0.01 BTC and 0.1 ETH, as ``/api/v5/public/instruments`` lists them);
- sizes are contracts: one engine lot (0.001 BTC) is 0.1 contracts of 0.01 BTC, so
  ``lotSz`` is 0.1 and ``minSz`` the recording's minimum in contracts. That is the
  recording's size step, coarser than OKX's live ``lotSz`` 0.01 (a recording of 0.001 BTC
  steps cannot show finer sizes); a client reads ``lotSz`` from the instruments answer, as
  the connector does, so nothing is assumed;
- prices keep the recording's tick (0.1 for BTC, as OKX's ``tickSz``), printed the way OKX
  prints them (no trailing zero).

The engine's integer ticks and lots are the OKX instrument's ticks and lots, one for one:
:func:`okx_instrument` only renames and re-expresses the units, so no number is ever rounded.
"""

from __future__ import annotations

from decimal import Decimal

from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError

CONTRACT_VALUE: dict[str, Decimal] = {"BTC": Decimal("0.01"), "ETH": Decimal("0.1")}
"""OKX's ``ctVal`` of the USDT swaps the shipped recordings can be replayed as."""


def swap_id(base: str, quote: str = "USDT") -> str:
    return f"{base}-{quote}-SWAP"


def okx_instrument(engine: Instrument) -> Instrument:
    """The OKX swap the engine's instrument is shown as (module docstring)."""
    ct_val = CONTRACT_VALUE.get(engine.base_asset)
    if ct_val is None or engine.quote_asset != "USDT":
        known = ", ".join(f"{b}USDT" for b in CONTRACT_VALUE)
        raise ConfigError(
            f"the simulated OKX venue replays recordings of {known} as OKX swaps; "
            f"{engine.symbol} has no OKX contract value here"
        )
    lot = (engine.base_per_lot / ct_val).normalize()
    tick = engine.tick_size.normalize()
    if lot * ct_val != engine.base_per_lot or tick != engine.tick_size:
        raise ConfigError(f"{engine.symbol}'s grid cannot be said exactly in OKX contracts")
    return Instrument(
        symbol=swap_id(engine.base_asset),
        tick_size=tick,
        lot_size=lot,
        min_qty=engine.min_qty,
        max_qty=engine.max_qty,
        min_notional=Decimal(0),
        min_price_ticks=engine.min_price_ticks,
        max_price_ticks=engine.max_price_ticks,
        base_asset=engine.base_asset,
        quote_asset="USDT",
        contract_size=ct_val,
    )
