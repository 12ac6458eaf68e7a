"""The faults that act on the venue now (``SimVenue.inject``), venue-neutral.

Counter-type faults are armed on :class:`~mmtrio.sim.faults.FaultState` and consumed by the
serving paths; the kinds here happen at once: close, stall or mute websockets, cancel or expire
orders as the venue, end the user-stream session (the front end's way), fill our orders on
demand (``fill``), replay the latest fill events (``user_replay``: the front end marked them
as fills when it published them), change the position without a trade (``position_adjust``:
the front end says it as an account change of cause ``ADJUSTMENT``), mark the link to the
client silent for the rate limiter (``link_silent``) or the client starved of CPU
(``client_slow``), push a margin call where the front end
has one (``margin_call``), move the mark (``mark_price``: a mark at the liquidation price
liquidates, :mod:`mmtrio.sim.liquidation`), and disarm every counter (``disarm``).
A malformed parameter is a :class:`~mmtrio.sim.errors.SimBadRequest` naming it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import trio

from mmtrio.core.events import Side, Trade
from mmtrio.sim import liquidation
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.faults import FAULT_KINDS, FaultRecord, count_param
from mmtrio.sim.frontend import AccountCause

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue


def _positive_seconds(params: dict[str, Any]) -> float | None:
    """``params["seconds"]``: a positive number, or None when absent or null."""
    seconds = params.get("seconds")
    if seconds is None:
        return None
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        raise SimBadRequest(f"fault 'seconds' must be a positive number, got {seconds!r}")
    return float(seconds)


def inject(venue: SimVenue, kind: str, params: dict[str, Any]) -> FaultRecord:
    """Inject one fault now (see ``faults.FAULT_KINDS``); recorded with its time."""
    if kind not in FAULT_KINDS:
        raise SimBadRequest(f"unknown fault kind {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
    target = str(params.get("target", "all"))
    if target not in ("market", "user", "orders", "all"):
        raise SimBadRequest(f"fault target must be market, user, orders or all, got {target!r}")
    if kind == "ws_close":
        for conn in venue.hub.conns(target):
            conn.close("closed by fault injection")
    elif kind in ("ws_stall", "ws_mute"):
        seconds = params.get("seconds", 30.0)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise SimBadRequest(f"fault 'seconds' must be a non-negative number, got {seconds!r}")
        if kind == "ws_stall":
            venue.hub.stall(target, float(seconds))
        else:
            venue.hub.mute(target, float(seconds))
    elif kind in ("venue_cancel", "venue_expire"):
        _venue_close(venue, kind, params.get("client_id"))
    elif kind == "user_session_expire":
        venue.front.end_user_session("session expired")
    elif kind == "fill":
        fill_through(venue, params)
    elif kind == "user_replay":
        venue.hub.replay_fills(count_param(params))
    elif kind == "link_silent":
        seconds = _positive_seconds(params)
        if seconds is None:
            raise SimBadRequest("fault 'seconds' must be a positive number, got None")
        venue.limiter.link_silent(trio.current_time(), seconds, reset=params.get("then") == "reset")
    elif kind == "client_slow":
        venue.limiter.client_slow(trio.current_time(), _positive_seconds(params))
    elif kind == "margin_call":
        push = getattr(venue.front, "margin_call", None)
        if push is None:
            raise SimBadRequest(f"the {venue.front.name} front end has no margin call push")
        push()
    elif kind == "mark_price":
        set_mark(venue, params.get("price"))
    elif kind == "position_adjust":
        lots = params.get("lots")
        if not isinstance(lots, int) or isinstance(lots, bool) or lots == 0:
            raise SimBadRequest(f"fault 'lots' must be a non-zero integer, got {lots!r}")
        adjust_position(venue, lots)
    else:
        venue.faults.arm(kind, params)
    record = FaultRecord(venue.true_ms(), venue.out_ts(), kind, params)
    venue.faults.log.append(record)
    return record


def _venue_close(venue: SimVenue, kind: str, cid: Any) -> None:
    engine = venue.engine
    ids = [str(cid)] if cid is not None else [o.client_id for o in engine.open_orders()]
    for one in ids:
        if engine.get(one) is None:
            raise SimBadRequest(f"no order {one!r} to {kind}", status=404)
        if kind == "venue_cancel":  # before apply(): the front ends render the cancel then
            venue.venue_cancelled.add(one)
        venue.apply(
            engine.expire(one, venue.market_ts)
            if kind == "venue_expire"
            else engine.cancel(one, venue.market_ts)
        )


def set_mark(venue: SimVenue, price: Any) -> None:
    """The mark_price fault: the mark is ``price`` until cleared (None); pushed now, and
    checked against the liquidation price now."""
    if price is None:
        venue.mark_override = None
    else:
        try:
            value = Decimal(str(price))
        except InvalidOperation:
            value = Decimal(-1)
        if isinstance(price, bool) or not value.is_finite() or value <= 0:
            raise SimBadRequest(f"fault 'price' must be a positive decimal or null, got {price!r}")
        venue.mark_override = value
    venue.front.on_mark()
    liquidation.check(venue)


def adjust_position(venue: SimVenue, lots: int) -> None:
    """The position_adjust fault: ``lots`` more (signed) at the mark price, no trade."""
    price = int(venue.mark_price() / venue.instrument.tick_size)  # the tick at or below it
    venue.account.adjust_position(lots, price, venue.market_ts)
    venue.engine.position += lots  # reduce-only checks follow the account
    venue.front.on_account(AccountCause.ADJUSTMENT, Decimal(0))


def fill_through(venue: SimVenue, params: dict[str, Any]) -> int:
    """The ``fill`` fault: a market trade one tick through our best order on a side (or
    through ``client_id``'s price), sized as our orders it crosses, fills them as makers
    the way a real sweep would. Returns the number of our fills it made."""
    engine = venue.engine
    cid = params.get("client_id")
    if cid is not None:
        target = engine.get(str(cid))
        if target is None or target.status.value not in ("NEW", "PARTIALLY_FILLED"):
            raise SimBadRequest(f"no open order {cid!r} to fill", status=404)
        side, price = target.side, target.price
    else:
        side_name = params.get("side")
        if side_name not in ("BUY", "SELL"):
            raise SimBadRequest(f"fill fault needs side BUY or SELL, got {side_name!r}")
        side = Side(side_name)
        ours = [o.price for o in engine.open_orders() if o.side is side]
        if not ours:
            return 0  # nothing of ours rests on that side: nothing to fill
        price = max(ours) if side is Side.BUY else min(ours)
    crossed = [
        o
        for o in engine.open_orders()
        if o.side is side and (o.price >= price if side is Side.BUY else o.price <= price)
    ]
    size = sum(o.qty - o.cum_qty for o in crossed)
    through = price - 1 if side is Side.BUY else price + 1
    # A sell sweeping below our bid (the buyer is the maker), or a buy above our ask.
    trade = Trade(venue.symbol, 0, through, size, side is Side.BUY, venue.market_ts)
    updates = engine.on_trade(trade)
    venue.apply(updates)
    return sum(1 for u in updates if u.fill is not None)
