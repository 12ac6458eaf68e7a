"""The simulated Binance account's margin: what is held, and the check an order must pass.

One flat leverage bracket (``rest_account.py``): the initial margin of a position or an open
order is its notional at the mark / the account's leverage (``BinanceFrontEnd.leverage``),
the maintenance margin the position's notional × the bracket's maintenance margin rate
(``SimVenue.maint_margin_rate``, 2.5 %: half the initial margin at the default 20×),
whatever the leverage, as on Binance. The liquidation price follows from it
(:mod:`mmtrio.sim.liquidation`). An order that would grow the position is
refused with -2019 when its growing part's initial margin exceeds the available balance
(wallet + unrealised − the initial margin already held), as on Binance; an order that can
only reduce the position needs none.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from mmtrio.sim.binance.wire import ApiError
from mmtrio.sim.liquidation import liquidation_price

if TYPE_CHECKING:
    from mmtrio.sim.binance.frontend import BinanceFrontEnd
    from mmtrio.sim.venue import SimVenue


def margins(front: BinanceFrontEnd) -> dict[str, Decimal]:
    """The account's margins at the mark (quote currency); open orders on both sides count."""
    venue = front.venue
    acct, inst = venue.account, venue.instrument
    mark = venue.mark_price()
    lev = Decimal(front.leverage)
    notional = inst.lots_to_qty(acct.position) * mark
    buy, sell = acct.open_lots()
    order_notional = inst.lots_to_qty(buy + sell) * mark
    upnl = acct.unrealized(mark)
    pos_margin = abs(notional) / lev
    order_margin = order_notional / lev
    return {
        "mark": mark,
        "notional": notional,
        "upnl": upnl,
        "position_margin": pos_margin,
        "order_margin": order_margin,
        "initial": pos_margin + order_margin,
        "maint": venue.account.maintenance(mark, venue.maint_margin_rate),
        "bid_notional": inst.lots_to_qty(buy) * mark,
        "ask_notional": inst.lots_to_qty(sell) * mark,
    }


def liquidation_word(venue: SimVenue) -> str:
    """positionRisk's ``liquidationPrice``: the sim's, at the tick below (a long) or above
    (a short) as Binance rounds it to the symbol's price precision; "0" when there is none."""
    liq = liquidation_price(venue)
    if liq is None:
        return "0"
    inst = venue.instrument
    rounding = ROUND_FLOOR if venue.account.position > 0 else ROUND_CEILING
    return inst.price_str(int((liq / inst.tick_size).to_integral_value(rounding)))


def margin_check(front: BinanceFrontEnd, side_sign: int, price: Decimal, lots: int) -> None:
    """-2019 when the order's growing part needs more initial margin than is available."""
    acct = front.venue.account
    position = acct.position
    growing = lots if position * side_sign >= 0 else max(lots - abs(position), 0)
    if growing == 0:
        return
    m = margins(front)
    available = acct.balance + m["upnl"] - m["initial"]
    need = front.venue.instrument.lots_to_qty(growing) * price / Decimal(front.leverage)
    if need > available:
        raise ApiError(-2019, "Margin is insufficient.")


__all__ = ["liquidation_word", "margin_check", "margins"]
