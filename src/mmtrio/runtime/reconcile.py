"""Reconciliation: make the strategy's view of orders, fills and position match the venue's.

Run at start (before the trading loop steps anything), after every user-stream reconnect,
periodically, and once more at stop. Decisions recorded here:

- **Open orders.** Ours are recognised by the client-id prefix (any epoch: an earlier
  process's orders are ours too). At start they are adopted into the strategy
  (``adopt=True``, which cancels them at its next step: their prices were chosen under other
  parameters) or cancelled here. Later, an open order of ours the strategy does not track
  (evicted, or its cancel timed out) is cancelled: nobody would manage it. Foreign orders
  (manual, another bot) are never touched, only reported.
- **Fills.** The gateway's ``user_trades`` from ``since_trade_id + 1`` finds every fill
  after the caller's watermark. A trade is *missed* when the ledger has not booked it
  (``Ledger.has_fill``) — not merely when it was never fed: a fill fed to a loop that stopped
  before stepping it is fed again (``known_trade_ids`` records what was fed). Each missed
  fill is fed to the strategy as a TRADE OrderUpdate carrying the order's queried status, so
  the tracker learns the order's fate with the fill; the ledger dedupes by trade id, so a
  fill the user stream also delivers is booked once. A fill whose order cannot be named
  (the venue may give the order id only) is still booked, as an update with an empty client id
  (the tracker passes it to the ledger).
- **Start, a new journal** (``journal_new``: no start record, no fill): the venue's history
  predates this journal; it is inside the venue position, which is adopted. Its trade ids
  become the watermark.
- **Start, adopted history.** The trades are listed before the position is read, so the
  adopted position holds every trade up to the last one listed: the ledger takes every trade
  id up to it as booked (``Ledger.booked_through``), and a fill event the venue sends again
  later for one of them is not booked twice (deterministic simulation seed 30: a restarted
  bot booked replayed fills older than its journal's checkpoint and stayed 2 lots short).
- **Start, a journal with a past** (its watermark, or None when the venue had listed no trade
  yet: then every trade it lists now came later, issue #20 finding 1): missed fills are booked
  (and recorded through ``record``), then the venue position is adopted as the truth. A gap
  the booked trades do not explain is never adopted silently: ``gap_reason`` says why, the
  strategy raises an alert with it, the log says it as an error and the start record keeps it.
- **Later passes: position check.** |venue − ours| > ``tolerance_lots`` → halt: a KillSwitch
  with the reason, since booking fills cannot explain the gap. A fill racing the two reads
  (trades, then position) can show a transient gap, so a mismatch is re-checked once after
  ``confirm_delay_s`` with fresh reads before halting.
- **Where events go.** Without ``events_out`` the events are stepped here (start and stop,
  when nothing else steps the strategy), passed to ``record`` (the journal) and the commands
  returned in the report; with it they are sent into the trading loop, the only task that
  steps a running strategy (it records them). "Ours" then counts fills sent but not yet
  booked by the loop.
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
    OrderStatus,
    OrderUpdate,
    TimeInForce,
)
from mmtrio.core.instruments import Instrument
from mmtrio.core.ledger import Ledger
from mmtrio.core.orders import Order
from mmtrio.errors import VenueError
from mmtrio.runtime.inbox import Sender
from mmtrio.venues.protocol import Gateway

CONFIRM_DELAY_S = 0.5  # re-check of a position mismatch (see the module docstring)


class _Tracker(Protocol):
    def live_orders(self) -> list[Order]: ...
    def get(self, client_id: str) -> Order | None: ...


class Reconcilable(Protocol):
    """The part of core.strategy.MarketMaker reconciliation uses."""

    @property
    def ledger(self) -> Ledger: ...
    @property
    def orders(self) -> _Tracker: ...
    @property
    def instrument(self) -> Instrument: ...
    def step(self, event: Event, now: int) -> list[Command]: ...
    def adopt_position(
        self, lots: int, entry_price: Decimal, now: int, *, gap_reason: str | None = None
    ) -> None: ...
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
    venue_trade_ids: list[int] = field(default_factory=list)  # every trade id read this pass
    venue_position: int = 0
    our_position: int = 0
    position_gap: int = 0  # venue − ours (at start: before the venue position was adopted)
    gap_reason: str | None = None  # at start: why a gap no trade explains was adopted
    entry_price: Decimal = Decimal(0)
    last_trade_id: int | None = None
    halted: bool = False
    halt_reason: str | None = None
    commands: list[Command] = field(default_factory=list)  # from stepping (no events_out)

    def summary(self) -> str:
        """One log line."""
        return (
            f"reconcile{' (start)' if self.startup else ''}: adopted {len(self.adopted)}, "
            f"cancelled {len(self.cancelled)}, foreign {len(self.foreign)}, missed fills "
            f"{len(self.missed_fills)}, position venue {self.venue_position} / ours "
            f"{self.our_position}" + (f"; HALT: {self.halt_reason}" if self.halted else "")
        )


async def fetch_trades(gateway: Gateway, symbol: str, from_id: int | None) -> list[Fill]:
    """Every fill from ``from_id`` (inclusive; None = what the venue lists without one); the
    venue package pages (its page size and cursor are its own)."""
    return await gateway.user_trades(symbol, from_id)


def _fill_only_update(fill: Fill) -> OrderUpdate:
    # The order cannot be named: what we know is the fill itself.
    return OrderUpdate(
        symbol=fill.symbol,
        client_id=fill.client_id,
        order_id=fill.order_id,
        side=fill.side,
        exec_type=ExecType.TRADE,
        status=OrderStatus.PARTIALLY_FILLED,
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


@dataclass(slots=True)
class _Pass:
    """Shared arguments of one pass."""

    gateway: Gateway
    mm: Reconcilable
    symbol: str
    known: MutableSet[int]
    clock_ms: Callable[[], int]
    events_out: Sender | None
    record: Callable[[Event], object] | None
    report: ReconcileReport

    async def deliver(self, event: Event) -> None:
        if self.events_out is not None:
            await self.events_out.send(event)
            return
        self.report.commands.extend(self.mm.step(event, self.clock_ms()))
        if self.record is not None:
            self.record(event)

    async def book_since(self, since: int | None, venue_open: list[OrderUpdate]) -> list[Fill]:
        """Fetch trades after ``since``, feed the missed ones; returns those fed."""
        from_id = None if since is None else since + 1
        trades = await fetch_trades(self.gateway, self.symbol, from_id)
        rep = self.report
        rep.venue_trade_ids.extend(t.trade_id for t in trades)
        if trades:
            rep.last_trade_id = max(t.trade_id for t in trades)
        ledger = self.mm.ledger
        # The ledger decides what is booked: an id fed to the loop that it never stepped
        # (stopped first) must be fed again, or the fill would be lost.
        new = [t for t in trades if not ledger.has_fill(t.trade_id)]
        for upd in await _missed_fill_updates(self.gateway, self.mm, self.symbol, new, venue_open):
            if upd.fill is not None:
                self.known.add(upd.fill.trade_id)
                rep.missed_fills.append(upd.fill.trade_id)
            await self.deliver(upd)
        return new


async def _open_orders(
    p: _Pass, *, startup: bool, adopt: bool, is_ours: Callable[[str], bool]
) -> list[OrderUpdate]:
    venue_open = await p.gateway.open_orders(p.symbol)
    tracked = {o.client_id for o in p.mm.orders.live_orders()}
    rep = p.report
    for upd in venue_open:
        if not is_ours(upd.client_id):
            rep.foreign.append(upd.client_id)
        elif startup and adopt:
            p.mm.adopt_order(upd, p.clock_ms())
            rep.adopted.append(upd.client_id)
        elif startup or upd.client_id not in tracked:
            # Ours but unowned (an earlier run's, or evicted): nobody would manage it.
            try:
                await p.gateway.cancel(CancelOrder(upd.client_id, p.symbol))
                rep.cancelled.append(upd.client_id)
            except VenueError as exc:
                logger.warning("reconcile: cancel of unowned {} failed: {}", upd.client_id, exc)
                rep.cancel_failed.append(upd.client_id)
    return venue_open


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
    events_out: Sender | None = None,
    record: Callable[[Event], object] | None = None,
    confirm_delay_s: float = CONFIRM_DELAY_S,
    journal_new: bool | None = None,
) -> ReconcileReport:
    """One reconciliation pass (see the module docstring for what start and later runs do).

    ``known_trade_ids`` is the caller's record of fed trade ids (updated here);
    ``since_trade_id`` the watermark (the previous pass's ``last_trade_id``, or at start the
    journal's). ``record`` receives every event stepped here (start/stop: the journal).
    ``journal_new`` (start only; default: no watermark) says the journal has no past.
    Venue errors propagate: a supervisor retries the pass.
    """
    report = ReconcileReport(startup=startup, last_trade_id=since_trade_id)
    p = _Pass(gateway, mm, symbol, known_trade_ids, clock_ms, events_out, record, report)
    venue_open = await _open_orders(p, startup=startup, adopt=adopt, is_ours=is_ours)

    if startup:
        if journal_new is None:
            journal_new = since_trade_id is None
        if journal_new:
            # A new journal: everything filled so far is inside the venue position.
            trades = await fetch_trades(gateway, symbol, None)
            known_trade_ids |= {t.trade_id for t in trades}
            report.venue_trade_ids.extend(t.trade_id for t in trades)
            report.last_trade_id = max((t.trade_id for t in trades), default=None)
        else:
            await p.book_since(since_trade_id, venue_open)
        lots, entry = await gateway.position(symbol)
        ours = mm.ledger.position_lots
        report.position_gap = lots - ours
        if report.position_gap and not journal_new:
            inst = mm.instrument
            base = inst.base_asset
            report.gap_reason = (
                f"the venue's trades since the journal's last known state do not explain it "
                f"(venue {inst.lots_to_base(lots)} {base}, journal + "
                f"{len(report.missed_fills)} missed trade(s) {inst.lots_to_base(ours)} {base}): "
                "a position change without a trade of ours (liquidation, ADL, a manual "
                "transfer) or trades older than the venue still lists"
            )
            logger.error("position at start: gap of {:+} {} adopted; {}",
                         inst.lots_to_base(report.position_gap), base,
                         report.gap_reason)  # fmt: skip
        mm.adopt_position(lots, entry, clock_ms(), gap_reason=report.gap_reason)
        if report.last_trade_id is not None:
            # The trades were listed before the position was read: every one up to the
            # last listed is inside the position just adopted (a replay of one is history).
            mm.ledger.booked_through(report.last_trade_id)
        report.venue_position, report.entry_price = lots, entry
        report.our_position = mm.ledger.position_lots
        logger.info(report.summary())
        return report

    sent: list[Fill] = await p.book_since(since_trade_id, venue_open)
    for attempt in range(2):
        lots, entry = await gateway.position(symbol)
        # Fills fed but not yet booked by the loop still count as ours.
        ours = mm.ledger.position_lots + sum(
            f.qty * f.side.sign for f in sent if not mm.ledger.has_fill(f.trade_id)
        )
        report.venue_position, report.entry_price, report.our_position = lots, entry, ours
        report.position_gap = lots - ours
        if abs(lots - ours) <= tolerance_lots or attempt == 1:
            break
        await trio.sleep(confirm_delay_s)
        sent += await p.book_since(report.last_trade_id, venue_open)
    if abs(report.position_gap) > tolerance_lots:
        report.halted = True
        report.halt_reason = (
            f"position mismatch: venue {report.venue_position} lots, ours "
            f"{report.our_position} lots (tolerance {tolerance_lots}); halted until an "
            "operator checks and resumes"
        )
        await p.deliver(KillSwitch(report.halt_reason, False, clock_ms()))
    log = logger.error if report.halted else logger.info
    log(report.summary())
    return report
