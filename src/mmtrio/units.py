"""One way to print a figure, on every surface (screen, `mmtrio status`, logs, Telegram, report).

The core keeps prices in ticks and sizes in lots; an operator reads the instrument's units.
Rules, the same everywhere:

- a price in the quote asset with the instrument's price decimals (BTCUSDT: ``60012.30``);
  a mid between two ticks gets the one extra decimal it needs (``60012.35``);
- a size in the base asset with the decimals of one lot in base units, signed where it is a
  position (``+0.004``); on a contract venue (OKX) the contract size counts, so a size is
  always base-asset units, never contracts;
- money in the quote asset rounded to the cent (:data:`MONEY_DECIMALS`), signed: what the
  session earned is positive, what it paid is negative. **Fees are a cost and shown negative**
  (a maker rebate is positive), so the P&L parts add up to equity as printed.
"""

from __future__ import annotations

from decimal import Decimal

from mmtrio.core import figures
from mmtrio.core.figures import MONEY_DECIMALS
from mmtrio.core.instruments import Instrument


def money(value: Decimal | float, *, signed: bool = True) -> str:
    """``+12.35`` (quote asset, rounded to the cent); ``-0.00`` is printed ``+0.00``."""
    return figures.money(value, signed=signed)


def money_plain(value: Decimal | float) -> str:
    """Like :func:`money` without thousands separators (for JSON documents)."""
    return money(value).replace(",", "")


def fee_cost(fees_paid: Decimal) -> Decimal:
    """The ledger keeps fees paid as a positive number; every surface shows them as a cost."""
    return -fees_paid


def unpriced_fees(unpriced: tuple[tuple[str, Decimal], ...]) -> str | None:
    """What equity leaves out until the runtime has a price for it (fees paid in another
    asset, core/ledger.py), in words; None when nothing is left out."""
    if not unpriced:
        return None
    parts = ", ".join(f"{amount.normalize():f} {asset}" for asset, amount in unpriced)
    assets = ", ".join(asset for asset, _ in unpriced)
    return f"equity excludes {parts} of fees (no {assets} price yet)"


def price(inst: Instrument, ticks: int) -> str:
    """A price in the quote asset, the instrument's decimals."""
    return inst.price_str(ticks)


def mid_price(inst: Instrument, mid_ticks: float) -> str:
    """A mid (a whole or half tick) with the decimals a half tick needs (0.10 → 0.05)."""
    half_ticks = round(mid_ticks * 2)
    value = inst.ticks_to_price(half_ticks) / 2
    exponent = (inst.tick_size / 2).normalize().as_tuple().exponent
    decimals = max(inst.price_decimals, -exponent if isinstance(exponent, int) else 0)
    return f"{value:.{decimals}f}"


def size(inst: Instrument, lots: int, *, signed: bool = False) -> str:
    """A size in the base asset, the lot's decimals (``+0.004`` when ``signed``)."""
    qty = inst.lots_to_base(lots)
    return f"{qty:+.{inst.base_decimals}f}" if signed else f"{qty:.{inst.base_decimals}f}"


def sized(inst: Instrument, lots: int, *, signed: bool = False) -> str:
    """A size with its asset: ``0.004 BTC``."""
    return f"{size(inst, lots, signed=signed)} {inst.base_asset}"


def priced(inst: Instrument, ticks: int) -> str:
    """A price with its asset: ``60012.30 USDT``."""
    return f"{price(inst, ticks)} {inst.quote_asset}"


def notional(inst: Instrument, lots: int, mid_ticks: float | None) -> Decimal | None:
    """Signed value of ``lots`` at the mid (quote asset), None without a mid."""
    if mid_ticks is None:
        return None
    mid = inst.ticks_to_price(round(mid_ticks * 2)) / 2
    return inst.lots_to_base(lots) * mid


__all__ = [
    "MONEY_DECIMALS",
    "fee_cost",
    "mid_price",
    "money",
    "money_plain",
    "notional",
    "price",
    "priced",
    "size",
    "sized",
]
