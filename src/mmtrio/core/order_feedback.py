"""How our own order events change the strategy: the tracker, the reject policy, fills.

:func:`on_order_event` is the MarketMaker's handler for every event about one of our orders
(venue updates, request outcomes from execution, query answers). It moves the order in the
tracker, applies the reject policy (:mod:`mmtrio.core.reject_policy`, one rule per reject
kind), lets accepted post-only places decay the safety distance and clears a slot's back-off,
schedules the query of an unknown outcome, and books fills once (ledger, markouts, the risk
layer's fill count), each with its notice.

An order the venue cancelled without our asking (a venue-side cancel: maintenance, a
dead-man countdown, a risk engine) is named once, as a "venue_cancel" notice: it used to end
silently. Not for our own cancels (the order was pending cancel, its cancel timed out, or it
was older than the halt's CancelAll), an IOC remainder, or a refusal at placement (an
order never acknowledged: a post-only order that would have crossed; OKX's post-only cancel
is EXPIRED already, core/orders.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Final

from mmtrio.core.events import (
    AmendAccepted,
    AmendRejected,
    CancelAccepted,
    CancelRejected,
    OrderNotFound,
    OrderUpdate,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
    TimeInForce,
)
from mmtrio.core.orders import Order, OrderChange, OrderState
from mmtrio.core.reject_policy import (
    AUTH_FIX,
    POSITION_MODE_FIX,
    WOULD_CROSS_FREE,
    RejectRule,
    rule_for,
)
from mmtrio.core.rejects import describe

if TYPE_CHECKING:
    from mmtrio.core.strategy import MarketMaker

OrderEvent = (
    OrderUpdate
    | PlaceAccepted
    | PlaceRejected
    | AmendAccepted
    | AmendRejected
    | CancelAccepted
    | CancelRejected
    | OutcomeUnknown
    | OrderNotFound
)


def on_order_event(mm: MarketMaker, event: OrderEvent, now: int) -> None:
    """Apply one event about one of our orders (see the module docstring)."""
    inst = mm.instrument
    if isinstance(event, OrderUpdate) and event.symbol != inst.symbol:
        mm.log.add("alert", f"order update for {event.symbol} ignored", client_id=event.client_id)
        return
    before = mm.orders.get(event.client_id)
    change = mm.orders.on_event(event)
    if isinstance(event, OrderUpdate) and change.order is None and before is None:
        alert = mm.foreign.first_seen(event)
        if alert is not None:
            mm.log.add("alert", alert, client_id=event.client_id, foreign=True)
    post_only = before is not None and before.time_in_force is TimeInForce.POST_ONLY
    if isinstance(event, PlaceRejected | AmendRejected):
        _on_reject(mm, event, before, post_only, now)
    elif isinstance(event, PlaceAccepted | AmendAccepted) and change.changed:
        if isinstance(event, PlaceAccepted) and post_only:
            mm.safety.on_success()
        if before is not None:
            mm.emitter.backoff.on_accept(before.slot)
    elif isinstance(event, OutcomeUnknown) and change.order is not None:
        mm.emitter.on_outcome_unknown(event.client_id, now, event.operation)
    elif isinstance(event, OrderUpdate) and before is not None:
        _note_venue_cancel(mm, before, change)
    fill = change.fill
    if fill is None or fill.symbol != inst.symbol:
        return
    mid = mm.book.mid() if mm.book.synced else None
    mid_dec = None if mid is None else inst.tick_size * Decimal(str(mid))
    if not mm.ledger.on_fill(fill, mid_dec):
        return
    mm.on_fill_booked(fill, now)
    position = mm.ledger.position_lots
    # A fill of an order the tracker does not hold is either this bot's own (placed by an
    # earlier process and filled while none ran, or no longer tracked: reconciliation names
    # it by its client id, from the journal if the venue gives only the order id) or the
    # venue's own (a liquidation, an ADL: Binance's autoclose-…) or another client's: said
    # so, so the operator is not left to guess why the position moved. Calling the bot's own
    # missed fill a foreign order told the operator something else traded the account.
    ident = fill.client_id or f"order {fill.order_id}"
    if before is None and mm.foreign.is_ours(fill.client_id):
        ident += (
            ": a missed fill of this bot's own order (placed before a restart, or no longer "
            "tracked)"
        )
    elif before is None:
        ident += (
            ": an order this bot does not know (the venue's own, e.g. a liquidation, "
            "or another client's)"
        )
    mm.log.add(
        "fill",
        f"fill {fill.side.value} {inst.lots_to_base(fill.qty)} {inst.base_asset} @ "
        f"{inst.price_str(fill.price)} ({ident}); position "
        f"{inst.lots_to_base(position):+} {inst.base_asset}",
        client_id=fill.client_id,
        trade_id=fill.trade_id,
        side=fill.side.value,
        price=fill.price,
        qty=fill.qty,
        fee=str(fill.fee),
        maker=fill.is_maker,
        position=position,
    )


def reject_text(event: PlaceRejected | AmendRejected) -> str:
    """A refusal in plain words: what was refused, why (:func:`~mmtrio.core.rejects.describe`),
    and the venue's own code and message."""
    op = "place" if isinstance(event, PlaceRejected) else "amend"
    venue = " ".join(part for part in (event.code, event.reason.strip()) if part)
    text = f"{op} {event.client_id} refused: {describe(event.kind)}"
    return f"{text} ({venue})" if venue else text


_OURS_TO_CANCEL: Final = (OrderState.PENDING_CANCEL, OrderState.PENDING_NEW)


def _note_venue_cancel(mm: MarketMaker, before: Order, change: OrderChange) -> None:
    """Name a cancel we did not ask for (see the module docstring)."""
    order = change.order
    if order is None or order.state is not OrderState.CANCELED or before.state.terminal:
        return
    if before.state in _OURS_TO_CANCEL or before.time_in_force is TimeInForce.IOC:
        return
    if before.state is OrderState.UNKNOWN and before.unknown_op == "cancel":
        return  # our cancel, unconfirmed by its deadline
    asked_all = mm.emitter.cancel_all_ts
    if asked_all is not None and before.created_ts <= asked_all:
        return  # the halt's CancelAll covered it
    inst = mm.instrument
    mm.log.add(
        "venue_cancel",
        f"the venue cancelled {order.client_id}: not requested by this bot (no reason given; "
        f"{order.side.value} {inst.lots_to_base(order.qty - order.filled)} {inst.base_asset} "
        f"@ {inst.price_str(order.price)} left)",
        client_id=order.client_id,
        side=order.side.value,
        price=order.price,
        qty=order.qty,
        filled=order.filled,
    )


def _on_reject(
    mm: MarketMaker,
    event: PlaceRejected | AmendRejected,
    before: Order | None,
    post_only: bool,
    now: int,
) -> None:
    """The reject's notice, then its kind's rule (:mod:`mmtrio.core.reject_policy`)."""
    rule = rule_for(event.kind)
    # Widening is the answer while there is room to widen; at the widest distance a few
    # more would-cross refusals are tolerated, then the slot backs off (reject_policy.py).
    widened = rule is RejectRule.WIDEN and post_only and mm.safety.ticks < mm.safety.max_ticks
    if widened:
        mm.safety.on_reject()
    said = f"{event.kind.value} ({event.code})" if event.code else event.kind.value
    mm.log.add(
        "reject",
        reject_text(event),
        client_id=event.client_id,
        reject_kind=event.kind.value,
        code=event.code,
        reason=event.reason,
        safety_ticks=mm.safety.ticks,
        rule=rule.value,
    )
    if rule is RejectRule.MARGIN_HOLD:
        held = mm.risk.margin.hold(now, event.reason or said)
        mm.log.add(
            "alert",
            f"the venue refused an order for margin ({said}): reducing only for "
            f"{held / 1000:.0f} s; check the account's available balance and leverage",
            reason=event.reason,
        )
    elif rule is RejectRule.STOP:
        reason = f"{AUTH_FIX} ({said}: {event.reason})"
        mm.risk.trip_kill_switch(reason, now)
        mm.log.add("fatal", reason, reject_kind=event.kind.value, code=event.code)
    elif rule is RejectRule.HALT:
        mm.risk.trip_kill_switch(f"{POSITION_MODE_FIX} ({said}: {event.reason})", now)
    elif before is not None and (
        rule in (RejectRule.BACKOFF, RejectRule.RECONCILE, RejectRule.WIDEN)
        or (rule is RejectRule.GONE and isinstance(event, PlaceRejected))
    ):
        backoff = mm.emitter.backoff
        if rule is not RejectRule.WIDEN:
            delay: int | None = backoff.on_reject(before.slot, now)
        elif widened:
            delay = None
        else:
            delay = backoff.strike(before.slot, now, WOULD_CROSS_FREE)
        if delay is None:
            return
        if rule is RejectRule.RECONCILE:
            # A reduce-only refusal means the venue's position is not ours.
            mm.log.add(
                "reconcile_request",
                f"reduce-only order refused ({said}): reconciling the position with the venue",
            )
        mm.log.add(
            "alert",
            f"slot {before.side.value} L{before.slot[1]} backs off {delay / 1000:g} s after a "
            f"refusal: {describe(event.kind)}" + (f" ({event.code})" if event.code else ""),
            reject_kind=event.kind.value,
        )


__all__ = ["OrderEvent", "on_order_event"]
