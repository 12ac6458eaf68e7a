"""What each event other than our own order events does to the strategy's state.

:data:`HANDLERS` maps an event class to its handler, ``handler(mm, event, now)``: book
updates reach the book (and, when applied, the planner's estimators and the stale-book
guard), trades the estimators, mark prices the ledger and the funding rate, account and
control events the risk manager, feed status the planner's blocked streams; events about one
of our orders go to :func:`mmtrio.core.order_feedback.on_order_event`. The
:class:`~mmtrio.core.strategy.MarketMaker` looks the handler up once per event (one dict
lookup by class, no isinstance chain), in ``apply`` and ``step``, and decides afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, get_args

from mmtrio.core.book import BookOutcome
from mmtrio.core.events import (
    AccountHealth,
    AccountUpdate,
    AssetPrice,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    BookTicker,
    FeedStatus,
    FundingPayment,
    KillSwitch,
    MarginCall,
    MarkPrice,
    Resume,
    Timer,
    Trade,
)
from mmtrio.core.order_feedback import OrderEvent, on_order_event

if TYPE_CHECKING:
    from mmtrio.core.strategy import MarketMaker


def _on_delta(mm: MarketMaker, event: BookDelta, now: int) -> None:
    _on_book_outcome(mm, mm.book.apply_delta(event), now)
    mm.risk.on_market_message(event.ts, now + mm.venue_offset_ms)


def _on_snapshot(mm: MarketMaker, event: BookSnapshot, now: int) -> None:
    # A venue that sends whole snapshots (Hyperliquid) has no deltas: its snapshots
    # are its market messages, and their time is what staleness is judged by.
    _on_book_outcome(mm, mm.book.apply_snapshot(event), now)
    mm.risk.on_market_message(event.ts, now + mm.venue_offset_ms)


def _on_trade(mm: MarketMaker, event: Trade, now: int) -> None:
    if event.symbol == mm.instrument.symbol and event.price > 0:
        mm.planner.on_trade(float(event.price), event.aggressor, mm.t)
    mm.risk.on_market_message(event.ts, now + mm.venue_offset_ms)


def _on_ticker(mm: MarketMaker, event: BookTicker, now: int) -> None:
    mm.risk.on_market_message(event.ts, now + mm.venue_offset_ms)


def _on_health(mm: MarketMaker, event: AccountHealth, now: int) -> None:
    alert = mm.risk.account.on_health(event, now, mm.ledger.valuation_price())
    if alert is not None:
        mm.log.add("alert", alert, liquidation_price=str(event.liquidation_price))


def _on_asset_price(mm: MarketMaker, event: AssetPrice, now: int) -> None:
    # fees paid in that asset are in equity at this price (core/ledger.py)
    price = event.price
    if event.asset != mm.instrument.quote_asset and price.is_finite() and price > 0:
        mm.ledger.on_asset_price(event.asset, event.price)
        mm.limits_checkpoint.dirty = True


def _on_margin_call(mm: MarketMaker, event: MarginCall, now: int) -> None:
    mm.log.add("alert", mm.risk.account.on_margin_call(event, now))


def _on_account(mm: MarketMaker, event: AccountUpdate, now: int) -> None:
    for pos in event.positions:
        if pos.symbol == mm.instrument.symbol:
            mm.venue_position = pos.amount


def _on_funding(mm: MarketMaker, event: FundingPayment, now: int) -> None:
    if event.symbol == mm.instrument.symbol:
        mm.ledger.on_funding(event.amount, event.ts)


def _on_book_invalid(mm: MarketMaker, event: BookInvalid, now: int) -> None:
    mm.book.mark_out_of_sync(event.reason)
    mm.risk.on_book_invalid(event.reason)
    mm.log.add("alert", f"book invalid: {event.reason}", reason=event.reason)


def _on_kill_switch(mm: MarketMaker, event: KillSwitch, now: int) -> None:
    mm.risk.trip_kill_switch(
        event.reason, now, flatten=event.flatten, position_mismatch=event.position_mismatch
    )
    mm.log.add("alert", f"kill switch: {event.reason}", reason=event.reason, flatten=event.flatten)


def _on_resume(mm: MarketMaker, event: Resume, now: int) -> None:
    outcome = mm.risk.resume(event.reason, override=event.override)
    mm.last_resume = outcome
    mm.log.add("alert", outcome.reason, accepted=outcome.accepted)
    # The journal keeps every resume, refused or not, with the operator's reason.
    mm.log.add(
        "resume",
        outcome.reason,
        accepted=outcome.accepted,
        override=event.override,
        operator_reason=event.reason,
    )


def _on_timer(mm: MarketMaker, event: Timer, now: int) -> None:
    pass  # the step itself does the timed work (deadlines, queries, requotes)


def _on_book_outcome(mm: MarketMaker, outcome: BookOutcome, now: int) -> None:
    if outcome is BookOutcome.APPLIED:
        mm.risk.on_book_update(now)
        mm.last_book_update = now
        mid = mm.book.mid()
        if mid is not None and mid > 0:
            mm.planner.on_mid(mid, mm.t)
    elif outcome is BookOutcome.CROSSED:
        reason = mm.book.out_of_sync_reason or outcome.value
        mm.risk.on_book_invalid(reason)
        mm.log.add("alert", f"book out of sync: {reason}", reason=reason)
        # Our own check failed where the feed's did not (a crossed book after a delta
        # the sequencer accepted): quoting stays off until the feed brings a fresh snapshot.
        mm.log.add("book_resync", f"resync needed: {reason}", reason=reason)


def _on_mark(mm: MarketMaker, event: MarkPrice, now: int) -> None:
    if event.symbol != mm.instrument.symbol:
        return
    if event.mark_price.is_finite() and event.mark_price > 0:
        mm.mark_price = mm.emitter.mark_price = event.mark_price
        mm.ledger.mark(event.mark_price)
    rate = float(event.funding_rate)
    if math.isfinite(rate):
        mm.planner.funding_rate = rate


def _on_feed(mm: MarketMaker, event: FeedStatus, now: int) -> None:
    if event.connected:
        if mm.planner.blocked.pop(event.stream, None) is not None:
            mm.log.add("alert", f"{event.stream} stream back", stream=event.stream)
        return
    reason = f"{event.stream} stream down: {event.reason}"
    mm.planner.blocked[event.stream] = reason
    if event.stream == "market":
        mm.book.mark_out_of_sync(reason)
        mm.risk.on_book_invalid(reason)
    mm.log.add("alert", reason, stream=event.stream)


Handler = Callable[["MarketMaker", Any, int], None]
# The handler of each event class the MarketMaker acts on (order events:
# core/order_feedback.py); a class with none (or only via a base, see handler_for) is
# added on first sight.
HANDLERS: dict[type, Handler] = {
    BookDelta: _on_delta,
    BookSnapshot: _on_snapshot,
    Trade: _on_trade,
    BookTicker: _on_ticker,
    MarkPrice: _on_mark,
    **dict.fromkeys(get_args(OrderEvent), on_order_event),
    AccountHealth: _on_health,
    AssetPrice: _on_asset_price,
    MarginCall: _on_margin_call,
    AccountUpdate: _on_account,
    FundingPayment: _on_funding,
    BookInvalid: _on_book_invalid,
    FeedStatus: _on_feed,
    KillSwitch: _on_kill_switch,
    Resume: _on_resume,
    Timer: _on_timer,
}


def handler_for(cls: type) -> Handler:
    """A subclass's handler: its nearest base's (an isinstance test's answer); none: ignore."""
    for base in cls.__mro__[1:]:
        handler = HANDLERS.get(base)
        if handler is not None:
            return handler
    return _on_timer  # an event nothing acts on


__all__ = ["HANDLERS", "Handler", "handler_for"]
