"""The shipped recordings re-expressed as OKX swaps: instrument, contract size, sizes.

No public OKX recording could be found that this machine can reach (VENUES.md, "Data for
the simulated front ends"), so the simulated OKX venue replays the shipped Binance USD-M
recordings in OKX's terms: ``BTCUSDT`` becomes ``BTC-USDT-SWAP`` and ``ETHUSDT``
``ETH-USDT-SWAP``, with OKX's own contract rules for them (the public instruments listing:
``ctVal`` 0.01 BTC / 0.1 ETH, ``lotSz`` and ``minSz`` 0.01 contracts, ``tickSz`` 0.1 / 0.01).
Prices keep their value (the recorded tick is a whole number of OKX ticks); sizes keep their
base-asset quantity (0.001 BTC recorded is 0.1 contracts of 0.01 BTC, i.e. 10 lots of 0.01
contracts). The conversion is exact or refused: a recording whose grid does not fit OKX's
is a ConfigError naming both, never a rounded price or size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from mmtrio.core.events import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    Event,
    Level,
    MarkPrice,
    Trade,
)
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError


@dataclass(frozen=True, slots=True)
class SwapRules:
    """OKX's listing of one USDT swap (what ``/api/v5/public/instruments`` states)."""

    tick: Decimal
    ct_val: Decimal
    lot: Decimal  # contracts
    min_sz: Decimal  # contracts
    max_lmt_sz: Decimal = Decimal(100_000_000)


SWAPS: dict[str, SwapRules] = {
    "BTC": SwapRules(
        tick=Decimal("0.1"), ct_val=Decimal("0.01"), lot=Decimal("0.01"), min_sz=Decimal("0.01")
    ),
    "ETH": SwapRules(
        tick=Decimal("0.01"), ct_val=Decimal("0.1"), lot=Decimal("0.01"), min_sz=Decimal("0.01")
    ),
}


def swap_id(base: str, quote: str = "USDT") -> str:
    return f"{base}-{quote}-SWAP"


def okx_instrument(recorded: Instrument) -> Instrument:
    """The OKX swap a recording of ``recorded`` is replayed as (module docstring)."""
    rules = SWAPS.get(recorded.base_asset)
    if rules is None or recorded.quote_asset != "USDT":
        raise ConfigError(
            f"the simulated OKX venue re-expresses recordings of "
            f"{', '.join(b + 'USDT' for b in SWAPS)}; {recorded.symbol} has no OKX swap rules here"
        )
    return Instrument(
        symbol=swap_id(recorded.base_asset),
        tick_size=rules.tick,
        lot_size=rules.lot,
        min_qty=int(rules.min_sz / rules.lot),
        max_qty=int(rules.max_lmt_sz / rules.lot),
        min_notional=Decimal(0),
        base_asset=recorded.base_asset,
        quote_asset="USDT",
        contract_size=rules.ct_val,
    )


def _factor(big: Decimal, small: Decimal, what: str, src: Instrument, dst: Instrument) -> int:
    ratio, rem = divmod(big, small)
    if rem != 0 or ratio < 1:
        raise ConfigError(
            f"{src.symbol}'s {what} ({big}) is not a whole number of {dst.symbol}'s ({small}): "
            "its data cannot be replayed exactly on OKX's grid"
        )
    return int(ratio)


class Reexpress:
    """Market events of ``src`` (a recording's instrument) as events of ``dst`` (OKX's)."""

    def __init__(self, src: Instrument, dst: Instrument) -> None:
        self.src, self.dst = src, dst
        self.px = _factor(src.tick_size, dst.tick_size, "tick", src, dst)
        self.sz = _factor(src.base_per_lot, dst.base_per_lot, "lot (base units)", src, dst)

    def _levels(self, levels: tuple[Level, ...]) -> tuple[Level, ...]:
        px, sz = self.px, self.sz
        return tuple((p * px, q * sz) for p, q in levels)

    def __call__(self, ev: Event) -> Event:
        sym = self.dst.symbol
        if isinstance(ev, BookDelta | BookSnapshot):
            return replace(ev, symbol=sym, bids=self._levels(ev.bids), asks=self._levels(ev.asks))
        if isinstance(ev, Trade):
            return replace(ev, symbol=sym, price=ev.price * self.px, qty=ev.qty * self.sz)
        if isinstance(ev, BookTicker):
            return replace(
                ev,
                symbol=sym,
                bid_price=ev.bid_price * self.px,
                bid_qty=ev.bid_qty * self.sz,
                ask_price=ev.ask_price * self.px,
                ask_qty=ev.ask_qty * self.sz,
            )
        if isinstance(ev, MarkPrice):
            return replace(ev, symbol=sym)
        return ev


def reexpression(recorded: Instrument) -> tuple[Instrument, Callable[[Event], Event]]:
    """OKX's instrument for ``recorded`` and the event conversion onto it."""
    dst = okx_instrument(recorded)
    return dst, Reexpress(recorded, dst)
