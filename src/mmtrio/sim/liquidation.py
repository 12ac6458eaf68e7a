"""Liquidation on the simulated venue, venue-neutral: every front end gets it.

The account is one position in one-way cross margin. Its liquidation price is the USD-M
futures formula for that case (docs/SIM.md;
:meth:`~mmtrio.sim.account.SimAccount.liquidation_price`), with the venue's maintenance margin
rate ``SimVenue.maint_margin_rate``; each front end reports it in its own field (docs/SIM.md
lists them: OKX ``liqPx``, Hyperliquid ``liquidationPx``, Extended ``liquidationPrice``).

On every mark tick (once a market second, and when the ``mark_price`` fault moves the mark)
the venue checks the mark against it. When the mark reaches it, the venue liquidates, as
the venues do, in this order:

1. every open order of the account is cancelled (the client is told, as for any cancel);
2. the position is closed by an order of the venue's own, client id ``autoclose-<ms><n>``
   (the largest venue's form), type ``LIQUIDATION``, filled at once at the mark (rounded a tick
   against the account) as taker, outside the book: the client gets it as a fill of an order
   it never sent (each front end says it in its words, docs/SIM.md);
3. the wallet is debited the realised loss and a liquidation clearance fee of
   ``SimConfig.liquidation_fee_rate`` × the closed notional (the venue's stated clearance fee),
   the fee capped at what the wallet still holds: a loss beyond the wallet is the insurance
   fund's, as on the venue, so the balance never goes below zero by the fee.

Decision: the whole position is closed at once (venues liquidate small accounts in one go;
partial liquidation by brackets is not modelled, the sim has one bracket). Every liquidation
is in the ground truth (``liquidations``).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from mmtrio.core.events import Side
from mmtrio.sim.account import OrderRecord

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

LIQUIDATION_ORDER_TYPE = "LIQUIDATION"
CLIENT_ID_PREFIX = "autoclose-"


def liquidation_price(venue: SimVenue) -> Decimal | None:
    """The account's liquidation price now (None: flat, or no price liquidates it)."""
    return venue.account.liquidation_price(venue.maint_margin_rate)


def reached(venue: SimVenue, mark: Decimal) -> bool:
    """Has ``mark`` reached the liquidation price (at or beyond it, on the losing side)?"""
    liq = liquidation_price(venue)
    if liq is None:
        return False
    return mark <= liq if venue.account.position > 0 else mark >= liq


def check(venue: SimVenue) -> bool:
    """Liquidate when the mark has reached the liquidation price; True if it did."""
    mark = venue.mark_price()
    if mark <= 0 or not reached(venue, mark):
        return False
    liquidate(venue, mark)
    return True


def liquidate(venue: SimVenue, mark: Decimal) -> dict[str, Any]:
    """Cancel every open order, close the position at ``mark`` with a venue order, charge
    the clearance fee (module docstring). Returns the ground-truth record."""
    acct, inst = venue.account, venue.instrument
    liq = liquidation_price(venue)
    before = acct.position
    cancelled = venue.cancel_all("liquidation")
    lots = abs(before)
    side = Side.SELL if before > 0 else Side.BUY
    # a tick against the account: a long is sold at or below the mark, a short bought above
    rounding = ROUND_FLOOR if side is Side.SELL else ROUND_CEILING
    price = int((mark / inst.tick_size).to_integral_value(rounding))
    px = inst.ticks_to_price(price)
    realized = (px - acct.entry_price) * inst.lots_to_base(before)
    fee = inst.notional(price, lots) * venue.config.liquidation_fee_rate
    fee = max(Decimal(0), min(fee, acct.balance + realized))
    client_id = f"{CLIENT_ID_PREFIX}{venue.true_ms()}{len(venue.liquidations) + 1:06d}"
    upd = venue.engine.venue_fill(client_id, side, price, lots, fee=fee, ts=venue.market_ts)
    rec = OrderRecord(client_id, upd.order_id, side, price, lots, LIQUIDATION_ORDER_TYPE,
                      "IOC", reduce_only=True, created_ms=venue.market_ts)  # fmt: skip
    acct.record_order(rec)
    venue.apply([upd], convert_fee=False)  # the clearance fee is in the margin asset
    record = {
        "wall_ms": venue.true_ms(),
        "sim_ms": venue.out_ts(),
        "client_id": client_id,
        "order_id": upd.order_id,
        "trade_id": upd.fill.trade_id if upd.fill is not None else 0,
        "mark": str(mark),
        "liquidation_price": str(liq),
        "lots": before,
        "price": inst.price_str(price),
        "fee": str(fee),
        "cancelled_orders": cancelled,
        "balance_after": str(acct.balance),
    }
    venue.liquidations.append(record)
    return record


__all__ = [
    "CLIENT_ID_PREFIX",
    "LIQUIDATION_ORDER_TYPE",
    "check",
    "liquidate",
    "liquidation_price",
    "reached",
]
