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

P&L parts are rounded together, never one by one (:func:`pnl_parts`): each part rounded to
the cent on its own can miss the rounded total by a cent or two (0.004 + 0.004 + 0.004 is
0.01, its parts print 0.00 each). Equity is rounded truthfully, each part to the nearest cent,
and the cents left over go to the parts whose rounding moved them furthest (largest
remainder), so every printed part is within one cent of its true value and the parts as
printed add up to equity as printed, on every surface alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, localcontext

from mmtrio.core import figures
from mmtrio.core.figures import MONEY_DECIMALS
from mmtrio.core.instruments import Instrument
from mmtrio.core.ledger import LedgerSnapshot


def money(value: Decimal | float, *, signed: bool = True) -> str:
    """``+12.35`` (quote asset, rounded to the cent); ``-0.00`` is printed ``+0.00``."""
    return figures.money(value, signed=signed)


def money_plain(value: Decimal | float) -> str:
    """Like :func:`money` without thousands separators (for JSON documents)."""
    return money(value).replace(",", "")


def bps(value: float) -> str:
    """A ratio in basis points, signed, two decimals: ``-0.67``; a value that rounds to zero
    is ``+0.00``, never ``-0.00`` (as :func:`money`)."""
    text = f"{value:+.2f}"
    return "+0.00" if text == "-0.00" else text


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


_CENT = Decimal(1).scaleb(-MONEY_DECIMALS)
# Sums of money are exact here (Inexact trapped): rounding happens only in _cent.
_EXACT = Context(prec=80, traps=[Inexact, InvalidOperation])
_ROUNDING = Context(prec=80, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation])


def cent(value: Decimal) -> Decimal:
    """Money rounded to the cent, as :func:`money` prints it (half to even; never ``-0.00``):
    a whole number of cents for :func:`apportion` to split."""
    return _cent(value)


def _cent(value: Decimal) -> Decimal:
    """To the cent, half to even; never ``-0.00``."""
    with localcontext(_ROUNDING):
        q = value.quantize(_CENT)
        return abs(q) if q == 0 else q


def apportion(target: Decimal, parts: Sequence[Decimal]) -> list[Decimal]:
    """``parts`` rounded to the cent so that they add up to ``target`` exactly.

    Largest remainder: each part is rounded to the nearest cent (half to even), then the cents
    still missing (or in excess) are added to (taken from) the parts rounded down (up) the
    most; equal remainders go to the earlier part. ``target`` must be a whole number of cents
    less than one cent from the parts' true sum; then every result is less than one cent from
    its part. Raises ValueError otherwise.
    """
    with localcontext(_EXACT):
        for x in (target, *parts):
            if not isinstance(x, Decimal) or not x.is_finite():
                raise ValueError(f"money must be a finite Decimal, got {x!r}")
        if target != _cent(target):
            raise ValueError(f"the total {target} is not a whole number of cents")
        true_sum = sum(parts, Decimal(0))
        if abs(target - true_sum) >= _CENT:
            raise ValueError(
                f"the total {target} is a cent or more from the sum of its parts {true_sum}"
            )
        rounded = [_cent(p) for p in parts]
        left = int((target - sum(rounded, Decimal(0))) / _CENT)
        step = _CENT if left > 0 else -_CENT
        # Remainder in the direction the cents must move: the largest moves first.
        moved = [(p - r) * (1 if left > 0 else -1) for p, r in zip(parts, rounded, strict=True)]
        order = sorted(range(len(parts)), key=lambda i: (-moved[i], i))
        for i in order[: abs(left)]:
            rounded[i] = _cent(rounded[i] + step)
        return rounded


@dataclass(frozen=True, slots=True)
class PnlParts:
    """Session P&L and its parts in the quote asset, rounded to the cent so that both ways of
    splitting it add up to ``equity`` as printed: realised + unrealised + fees + funding, and
    spread capture + inventory + fees + funding + reconciliation. Fees are a cost (negative)."""

    equity: Decimal
    realised: Decimal
    unrealised: Decimal
    fees: Decimal
    funding: Decimal
    spread_capture: Decimal
    inventory: Decimal
    reconciliation: Decimal

    def pnl(self) -> dict[str, Decimal]:
        """Equity and the realised/unrealised split (the report's ``pnl`` keys and order)."""
        return {
            "equity": self.equity,
            "realised": self.realised,
            "unrealised": self.unrealised,
            "fees": self.fees,
            "funding": self.funding,
        }

    def attribution(self) -> dict[str, Decimal]:
        """The attribution split (the report's ``attribution`` keys and order)."""
        return {
            "spread_capture": self.spread_capture,
            "inventory": self.inventory,
            "fees": self.fees,
            "funding": self.funding,
            "reconciliation": self.reconciliation,
        }


def pnl_parts(
    *,
    equity: Decimal,
    realised: Decimal,
    unrealised: Decimal,
    fees: Decimal,
    funding: Decimal,
    spread_capture: Decimal,
    inventory: Decimal,
    reconciliation: Decimal,
) -> PnlParts:
    """The P&L figures every surface prints (screen, `status`, report, Telegram, exit summary).

    ``fees`` signed as shown (a cost negative). Fees and funding are printed once and belong
    to both splits, so the rounding goes in two steps: equity rounded truthfully is
    apportioned over trading (realised + unrealised), fees and funding; then that rounded
    trading figure over realised and unrealised, and again over spread capture, inventory and
    reconciliation. Every printed figure is less than one cent from its true value. Raises
    ValueError when the parts do not add up to ``equity`` exactly (two splits that disagree
    are no P&L)."""
    with localcontext(_EXACT):
        trading = realised + unrealised
        if trading + fees + funding != equity:
            raise ValueError(
                f"realised {realised} + unrealised {unrealised} + fees {fees} + funding "
                f"{funding} is not equity {equity}"
            )
        if spread_capture + inventory + reconciliation != trading:
            raise ValueError(
                f"spread capture {spread_capture} + inventory {inventory} + reconciliation "
                f"{reconciliation} is not realised + unrealised {trading}"
            )
        total = _cent(equity)
    trading_c, fees_c, funding_c = apportion(total, [trading, fees, funding])
    real_c, unreal_c = apportion(trading_c, [realised, unrealised])
    spread_c, inv_c, recon_c = apportion(trading_c, [spread_capture, inventory, reconciliation])
    return PnlParts(total, real_c, unreal_c, fees_c, funding_c, spread_c, inv_c, recon_c)


def ledger_pnl(led: LedgerSnapshot) -> PnlParts:
    """:func:`pnl_parts` of a ledger snapshot (every fee, those in other assets at their price)."""
    return pnl_parts(
        equity=led.equity,
        realised=led.realised,
        unrealised=led.unrealised,
        fees=fee_cost(led.all_fees),
        funding=led.funding,
        spread_capture=led.spread_capture,
        inventory=led.inventory_pnl,
        reconciliation=led.reconciliation_pnl,
    )


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
    "PnlParts",
    "apportion",
    "bps",
    "cent",
    "fee_cost",
    "ledger_pnl",
    "mid_price",
    "money",
    "money_plain",
    "notional",
    "pnl_parts",
    "price",
    "priced",
    "size",
    "sized",
]
