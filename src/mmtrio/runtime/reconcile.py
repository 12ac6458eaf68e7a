"""Reconciliation: make the strategy's view of orders, fills and position match the venue's.

Run at start (before the trading loop steps anything), after every user-stream reconnect
and periodically. Decisions recorded here:

- **Start.** Our open orders (client id with our prefix, any epoch) are adopted into the
  strategy (``adopt=True``) or cancelled; foreign orders (manual, another bot) are never
  touched, only reported. The venue's position is adopted as the truth. Fills older than
  the start are already inside that position, so they are *not* booked: their trade ids
  only become the watermark for the next run.
- **Later runs.** ``GET /fapi/v1/userTrades`` from the watermark finds fills the user stream
  missed. Each is fed to the strategy as a TRADE OrderUpdate carrying the order's queried
  status, so the tracker learns the order's fate together with the fill; the ledger
  dedupes by trade id, and ``known_trade_ids`` keeps us from feeding one twice. A fill
  whose order we cannot name (Binance's userTrades gives orderId only) is still booked, as
  an update with an empty client id (the tracker passes it to the ledger).
- **Position check.** |venue − ours| > ``tolerance_lots`` after booking → halt: a KillSwitch
  with the reason. Booking fills cannot explain the gap, so quoting on must stop.
- **Where events go.** Without ``events_out`` the events are stepped here (start-up, when
  nothing else steps the strategy) and the commands returned in the report; with it they are
  sent into the trading loop, which is the only task that steps a running strategy.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSet
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import trio
from loguru import logger

from mmtrio.core.commands import CancelOrder, Command
from mmtrio.core.events import (
    Event,
    ExecType,
    Fill,
    KillSwitch,
    OrderUpdate,
    TimeInForce,
    VenueOrderStatus,
)
from mmtrio.core.ledger import Ledger
from mmtrio.core.orders import Order
from mmtrio.errors import VenueError
from mmtrio.runtime.gateway import Gateway

PAGE = 1000  # userTrades page size (Binance's maximum)
MAX_PAGES = 50  # bounded: 50 000 missed fills in one run means something else is wrong


class _Tracker(Protocol):
    def live_orders(self) -> list[Order]: ...
    def get(self, client_id: str) -> Order | None: ...


class Reconcilable(Protocol):
    """The part of core.strategy.MarketMaker reconciliation uses."""

    @property
    def ledger(self) -> Ledger: ...
    @property
    def orders(self) -> _Tracker: ...
    def step(self, event: Event, now: int) -> list[Command]: ...
    def adopt_position(self, lots: int, entry_price: Decimal, now: int) -> None: ...
    def adopt_order(self, update: OrderUpdate, now: int) -> None: ...


@dataclass(slots=True)
class ReconcileReport:
    """What one reconciliation found and did."""

    startup: bool
    adopted: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    cancel_failed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    missed_fills: list[int] = field(default_factory=list)  # trade ids booked now
    venue_position: int = 0
    our_position: int = 0
    entry_price: Decimal = Decimal(0)
    last_trade_id: int | None = None
    halted: bool = False
    halt_reason: str | None = None
    commands: list[Command] = field(default_factory=list)  # from stepping (no events_out)

    def summary(self) -> str:
        return (
            f"reconcile{' (start)' if self.startup else ''}: adopted {len(self.adopted)}, "
            f"cancelled {len(self.cancelled)}, foreign {len(self.foreign)}, missed fills "
            f"{len(self.missed_fills)}, position venue {self.venue_position} / ours "
            f"{self.our_position}" + (f"; HALT: {self.halt_reason}" if self.halted else "")
        )


async def _fetch_trades(gateway: Gateway, symbol: str, from_id: int | None) -> list[Fill]:
    out: list[Fill] = []
    for _ in range(MAX_PAGES):
        page = await gateway.user_trades(symbol, from_id)
        out.extend(page)
        if len(page) < PAGE or from_id is None:
            break
        from_id = page[-1].trade_id + 1
    return out


def _fill_only_update(fill: Fill) -> OrderUpdate:
    # The order cannot be named: what we know is the fill itself.
    return OrderUpdate(
        symbol=fill.symbol,
        client_id=fill.client_id,
        order_id=fill.order_id,
        side=fill.side,
        exec_type=ExecType.TRADE,
        status=VenueOrderStatus.PARTIALLY_FILLED,
        price=fill.price,
        qty=fill.qty,
        cum_qty=0,
        time_in_force=TimeInForce.GTC,
        reduce_only=False,
        ts=fill.ts,
        fill=fill,
    )


async def _missed_fill_updates(
    gateway: Gateway,
    mm: Reconcilable,
    symbol: str,
    fills: list[Fill],
    venue_open: list[OrderUpdate],
) -> list[OrderUpdate]:
    names = {o.order_id: o.client_id for o in mm.orders.live_orders() if o.order_id is not None}
    names.update({u.order_id: u.client_id for u in venue_open})
    lookup = getattr(gateway, "client_id_for", None)
    states: dict[str, OrderUpdate | None] = {}
    out: list[OrderUpdate] = []
    for f in fills:
        cid = names.get(f.order_id) or (lookup(f.order_id) if callable(lookup) else None) or ""
        fill = Fill(
            f.symbol,
            f.trade_id,
            cid,
            f.order_id,
            f.side,
            f.price,
            f.qty,
            f.fee,
            f.fee_asset,
            f.is_maker,
            f.ts,
        )
        if cid and cid not in states:
            states[cid] = await gateway.query(symbol, cid)
        st = states.get(cid) if cid else None
        if st is None:
            out.append(_fill_only_update(fill))
        else:
            out.append(
                OrderUpdate(
                    st.symbol,
                    cid,
                    st.order_id,
                    st.side,
                    ExecType.TRADE,
                    st.status,
                    st.price,
                    st.qty,
                    st.cum_qty,
                    st.time_in_force,
                    st.reduce_only,
                    max(st.ts, fill.ts),
                    fill,
                )
            )
    return out


async def reconcile(
    gateway: Gateway,
    mm: Reconcilable,
    symbol: str,
    *,
    adopt: bool,
    tolerance_lots: int,
    known_trade_ids: MutableSet[int],
    is_ours: Callable[[str], bool],
    clock_ms: Callable[[], int],
    startup: bool,
    since_trade_id: int | None = None,
    events_out: trio.MemorySendChannel[Event] | None = None,
) -> ReconcileReport:
    """One reconciliation pass (see the module docstring for what start and later runs do).

    ``known_trade_ids`` is the caller's bounded set of booked trade ids (updated here);
    ``since_trade_id`` the last trade id of the previous pass (the report's
    ``last_trade_id``). Venue errors propagate: a supervisor retries the pass.
    """
    report = ReconcileReport(startup=startup)
    venue_open = await gateway.open_orders(symbol)
    tracked = {o.client_id for o in mm.orders.live_orders()}
    for upd in venue_open:
        if not is_ours(upd.client_id):
            report.foreign.append(upd.client_id)
        elif startup and adopt:
            mm.adopt_order(upd, clock_ms())
            report.adopted.append(upd.client_id)
        elif startup or upd.client_id not in tracked:
            # Ours but unowned (an earlier run's, or evicted): nobody would manage it.
            try:
                await gateway.cancel(CancelOrder(upd.client_id, symbol))
                report.cancelled.append(upd.client_id)
            except VenueError as exc:
                logger.warning("reconcile: cancel of unowned {} failed: {}", upd.client_id, exc)
                report.cancel_failed.append(upd.client_id)

    if startup:
        # Everything filled before now is inside the venue position we adopt.
        trades = await gateway.user_trades(symbol, None)
        for t in trades:
            known_trade_ids.add(t.trade_id)
        report.last_trade_id = max((t.trade_id for t in trades), default=since_trade_id)
        lots, entry = await gateway.position(symbol)
        mm.adopt_position(lots, entry, clock_ms())
        report.venue_position, report.entry_price = lots, entry
        report.our_position = mm.ledger.position_lots
        logger.info(report.summary())
        return report

    from_id = None if since_trade_id is None else since_trade_id + 1
    trades = await _fetch_trades(gateway, symbol, from_id)
    new = [t for t in trades if t.trade_id not in known_trade_ids]
    report.last_trade_id = max((t.trade_id for t in trades), default=since_trade_id)
    for upd in await _missed_fill_updates(gateway, mm, symbol, new, venue_open):
        if upd.fill is not None:
            known_trade_ids.add(upd.fill.trade_id)
            report.missed_fills.append(upd.fill.trade_id)
        await _deliver(mm, upd, report, clock_ms, events_out)

    lots, entry = await gateway.position(symbol)
    report.venue_position, report.entry_price = lots, entry
    # Compare after booking; when events go to the loop, count what we just sent too.
    ours = mm.ledger.position_lots
    if events_out is not None:
        ours += sum(u_fill.qty * u_fill.side.sign for u_fill in new)
    report.our_position = ours
    if abs(lots - ours) > tolerance_lots:
        report.halted = True
        report.halt_reason = (
            f"position mismatch: venue {lots} lots, ours {ours} lots "
            f"(tolerance {tolerance_lots}); halted until an operator checks and resumes"
        )
        await _deliver(
            mm, KillSwitch(report.halt_reason, False, clock_ms()), report, clock_ms, events_out
        )
    log = logger.error if report.halted else logger.info
    log(report.summary())
    return report


async def _deliver(
    mm: Reconcilable,
    event: Event,
    report: ReconcileReport,
    clock_ms: Callable[[], int],
    events_out: trio.MemorySendChannel[Event] | None,
) -> None:
    if events_out is not None:
        await events_out.send(event)
    else:
        report.commands.extend(mm.step(event, clock_ms()))
