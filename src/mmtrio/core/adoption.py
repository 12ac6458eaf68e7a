"""The MarketMaker's reconciliation adoptions and its status snapshot, kept out of the
composition in :mod:`mmtrio.core.strategy` (which calls them).

Adoption: the venue's position is the truth (recorded as a ledger adjustment, an alert when
no booked trade explains the gap); an open venue order of ours that the tracker knows is
applied as an update, one it does not know is tracked in a non-quoting slot and cancelled by
the next step.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from mmtrio.core.events import OrderUpdate
from mmtrio.core.notice_log import quote_statuses
from mmtrio.core.notices import StrategyStatus
from mmtrio.core.order_feedback import on_order_event
from mmtrio.core.risk_limits import band_for
from mmtrio.errors import ParameterError

if TYPE_CHECKING:
    from mmtrio.core.strategy import MarketMaker


def _qty(mm: MarketMaker, lots: int) -> str:
    """A size as the operator reads it (``0.004 BTC``)."""
    return f"{mm.instrument.lots_to_base(lots)} {mm.instrument.base_asset}"


def adopt_position(
    mm: MarketMaker, lots: int, entry_price: Decimal, now: int, gap_reason: str | None
) -> None:
    """Reconciliation: take the venue's position as the truth (recorded as an adjustment).

    ``gap_reason``: why the books and the venue differ when no booked trade explains it;
    such an adoption is also an alert (an operator must see it), never silent."""
    adj = mm.ledger.set_position(lots, entry_price, now)
    mm.risk.position_adopted()
    mm.log.add(
        "reconcile",
        f"position adopted: {_qty(mm, adj.lots_before)} -> {_qty(mm, adj.lots_after)}",
        lots_before=adj.lots_before,
        lots_after=adj.lots_after,
        equity_effect=str(adj.equity_effect),
    )
    if gap_reason is not None and adj.lots_before != adj.lots_after:
        gap = adj.lots_after - adj.lots_before
        mm.log.add(
            "alert",
            f"position gap of {mm.instrument.lots_to_base(gap):+} "
            f"{mm.instrument.base_asset} adopted from the venue "
            f"({_qty(mm, adj.lots_before)} -> {_qty(mm, adj.lots_after)}): {gap_reason}",
            lots_before=adj.lots_before,
            lots_after=adj.lots_after,
            reason=gap_reason,
        )


def adopt_order(mm: MarketMaker, update: OrderUpdate, now: int) -> None:
    """Reconciliation: an open venue order of ours. Tracked → the update is applied;
    unknown and still open → tracked in a non-quoting slot and cancelled by the next step
    (see the module docstring)."""
    if update.symbol != mm.instrument.symbol:
        raise ParameterError(
            f"adopt_order: order {update.client_id} is for {update.symbol}, this strategy "
            f"trades {mm.instrument.symbol}"
        )
    if mm.orders.get(update.client_id) is not None:
        on_order_event(mm, update, now)
        return
    mm.emitter.adopt(update, now)


def strategy_status(mm: MarketMaker, now: int) -> StrategyStatus:
    """A frozen snapshot for the status screen and metrics."""
    planner, view = mm.planner, mm.view
    params = planner.intensity_params(mm.t)
    age = None if mm.last_book_update is None else now - mm.last_book_update
    bid, ask = mm.book.best_bid(), mm.book.best_ask()
    return StrategyStatus(
        ts=now,
        trading_state=mm.risk.state,
        reason=view.reason if view is not None else "not evaluated yet",
        band=(
            view.band if view is not None else band_for(mm.ledger.position_lots, mm.config.limits)
        ),
        position_lots=mm.ledger.position_lots,
        entry_price=mm.ledger.entry_price,
        mid=mm.book.mid(),
        best_bid=None if bid is None else bid[0],
        best_ask=None if ask is None else ask[0],
        book_synced=mm.book.synced,
        book_age_ms=age,
        quotes=quote_statuses(mm.orders, mm.book, now),
        ledger=mm.ledger.snapshot(),
        drawdown=mm.risk.drawdown.drawdown,
        max_drawdown=mm.config.limits.max_drawdown,
        sigma=planner.sigma,
        a=params.a,
        k=params.k,
        intensity_source=params.source,
        sigma_source=planner.sigma_source,
        safety_ticks=mm.safety.ticks,
        quote_to_trade=view.quote_to_trade if view is not None else 0.0,
        cannot_quote=mm.log.cannot_quote_reason,
        last_fills=tuple(mm.log.last_fills),
        alerts=tuple(mm.log.alerts),
        defence_bid_ticks=planner.widening.bid_ticks,
        defence_ask_ticks=planner.widening.ask_ticks,
        regime_scale=planner.widening.scale,
        defence=planner.defence.describe(planner.widening, mm.t),
    )


__all__ = ["adopt_order", "adopt_position", "strategy_status"]
