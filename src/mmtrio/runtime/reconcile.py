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
  fill the user stream also delivers is booked once. A fill's order is named by the client
  id the venue gives with it, else by its venue order id (the tracker, the venue's open
  orders, the gateway, and at start the journal: an earlier process's order that filled
  while no process ran is the bot's own, booked against its client id). A fill whose order
  cannot be named is still booked, as an update with an empty client id (the tracker passes
  it to the ledger; the core names it as not this bot's). So is a fill whose order's status
  query fails (a 5xx, a lost answer, a 429): the order is then marked unknown, to be queried
  by the strategy, and after a 429 the pass ends once its fills are delivered
  (:mod:`.missed_fills`; the pass used to fail with the fill in hand, DST seeds 101565 and
  104095).
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
- **Start, either way: the position is settled first.** A fill made between the trades read
  and the position read is in the position only; the trades are read again after the position
  and, while new ones appear, booked (or, on a new journal, taken as inside) and the position
  read again (``_settled_position``), so such a fill is neither a false gap nor booked twice.
- **Later passes: orders that ended unseen.** An order the strategy tracks as live (or with
  a cancel or amend in flight) that the venue no longer lists open, its user-stream update
  lost with a socket, is queried by client id and its fate delivered at once
  (:mod:`.vanished`): its quoting slot used to wait for the cancel deadline (QA: 10 s without
  quotes after a reconnect while the halt's cancel-all had landed). Only orders acknowledged
  before the open-orders read was sent are resolved (an order sent meanwhile may not be
  listed yet), after the missed fills are booked.
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

from mmtrio import units
from mmtrio.core.commands import CancelOrder, Command
from mmtrio.core.events import Event, Fill, KillSwitch, OrderUpdate
from mmtrio.core.instruments import Instrument
from mmtrio.core.ledger import Ledger
from mmtrio.core.orders import Order
from mmtrio.core.risk import RiskManager
from mmtrio.errors import VenueError
from mmtrio.runtime.inbox import Sender
from mmtrio.runtime.missed_fills import Journaled, Unacked, missed_fill_updates
from mmtrio.runtime.vanished import candidates, vanished_fates
from mmtrio.venues.protocol import Gateway

CONFIRM_DELAY_S = 0.5  # re-check of a position mismatch (see the module docstring)
START_SETTLE_READS = 3  # at start: trades re-read after the position read (_settled_position)


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
    @property
    def risk(self) -> RiskManager: ...
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
    gone: list[str] = field(default_factory=list)  # tracked live, not open: fate delivered
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

    def summary(self, inst: Instrument) -> str:
        """One log line (sizes in the base asset, the lots in parentheses)."""
        return (
            f"reconcile{' (start)' if self.startup else ''}: adopted {len(self.adopted)}, "
            f"cancelled {len(self.cancelled)}, foreign {len(self.foreign)}, missed fills "
            f"{len(self.missed_fills)}, position venue {sized_lots(inst, self.venue_position)} "
            f"/ ours {sized_lots(inst, self.our_position)}"
            + (f", ended unseen {len(self.gone)}" if self.gone else "")
            + (f"; HALT: {self.halt_reason}" if self.halted else "")
        )


def sized_lots(inst: Instrument, lots: int) -> str:
    """A size as the logs write it: ``-0.002 BTC (-2 lots)`` (the lots are the journal's)."""
    return f"{units.sized(inst, lots)} ({lots} lots)"


MISMATCH_ADVICE = (
    "halted; a resume alone would trade on the wrong position and is refused: investigate "
    "first (a liquidation or ADL, a manual order or transfer, another bot on this account), "
    "then restart the bot, which adopts the venue's position (journaled and alerted), and "
    "resume"
)


async def fetch_trades(gateway: Gateway, symbol: str, from_id: int | None) -> list[Fill]:
    """Every fill from ``from_id`` (inclusive; None = what the venue lists without one); the
    venue package pages (its page size and cursor are its own)."""
    return await gateway.user_trades(symbol, from_id)


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
    journaled: Journaled | None = None
    unacked: Unacked | None = None
    stated: set[str] = field(default_factory=set)  # client ids delivered with a state

    async def deliver(self, event: Event) -> None:
        if self.events_out is not None:
            await self.events_out.send(event)
            return
        self.report.commands.extend(self.mm.step(event, self.clock_ms()))
        if self.record is not None:
            self.record(event)

    def adopt_trades(self, trades: list[Fill]) -> None:
        """Trades inside the venue position a new journal adopts: known and the watermark
        (the ledger takes every id up to it as booked once the position is adopted)."""
        rep = self.report
        ids = [t.trade_id for t in trades]
        self.known |= set(ids)
        rep.venue_trade_ids.extend(ids)
        if ids:
            top = max(ids)
            rep.last_trade_id = top if rep.last_trade_id is None else max(top, rep.last_trade_id)

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
        found = await missed_fill_updates(
            self.gateway,
            self.mm.orders,
            self.symbol,
            new,
            venue_open,
            clock_ms=self.clock_ms,
            journaled=self.journaled,
            unacked=self.unacked,
        )
        for upd in found.updates:
            if upd.client_id:
                self.stated.add(upd.client_id)
            if upd.fill is not None:
                self.known.add(upd.fill.trade_id)
                rep.missed_fills.append(upd.fill.trade_id)
            await self.deliver(upd)
        for unread in found.unread:  # after its fills: the fill stays booked either way
            self.stated.add(unread.client_id)
            await self.deliver(unread)
        if found.limited is not None:
            raise found.limited  # the caller waits the venue's Retry-After, as for any read
        return new


async def _settled_position(
    p: _Pass, *, journal_new: bool, venue_open: list[OrderUpdate]
) -> tuple[int, Decimal]:
    """At start: the venue position, read until it is consistent with the trades read.

    A fill made between the trades read and the position read is in the position but was
    not among the trades: adopted as it was, the start reported an unexplained gap (an
    alert naming liquidation or ADL) and the fill, booked later by the stream or the next
    pass, counted twice (ours one fill ahead of the venue, then a halt). So after the
    position the trades are read again: what appeared is booked (a journal with a past) or
    taken as inside the position (a new journal), and the position is read again, until a
    read lists nothing new (the position then holds exactly the trades read) or
    ``START_SETTLE_READS`` rounds passed (a venue filling us that fast: the gap check below
    decides)."""
    rep = p.report
    lots, entry = await p.gateway.position(p.symbol)
    for _ in range(START_SETTLE_READS):
        if journal_new:
            since = rep.last_trade_id
            later = await fetch_trades(p.gateway, p.symbol, None if since is None else since + 1)
            seen = set(rep.venue_trade_ids)
            fresh = [t for t in later if t.trade_id not in seen]
            p.adopt_trades(fresh)
        else:
            fresh = await p.book_since(rep.last_trade_id, venue_open)
        if not fresh:
            return lots, entry
        logger.info(
            "reconcile (start): {} trade(s) made while the position was read; read again",
            len(fresh),
        )
        lots, entry = await p.gateway.position(p.symbol)
    logger.warning(
        "reconcile (start): trades kept arriving over {} position reads; the last is compared",
        START_SETTLE_READS,
    )
    return lots, entry


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
    journaled: Journaled | None = None,
    unacked: Unacked | None = None,
) -> ReconcileReport:
    """One reconciliation pass (see the module docstring for what start and later runs do).

    ``known_trade_ids`` is the caller's record of fed trade ids (updated here);
    ``since_trade_id`` the watermark (the previous pass's ``last_trade_id``, or at start the
    journal's). ``record`` receives every event stepped here (start/stop: the journal).
    ``journal_new`` (start only; default: no watermark) says the journal has no past.
    ``journaled`` (start) names missed fills of an earlier process's orders from the journal.
    Venue errors propagate: a supervisor retries the pass.
    """
    report = ReconcileReport(startup=startup, last_trade_id=since_trade_id)
    p = _Pass(
        gateway,
        mm,
        symbol,
        known_trade_ids,
        clock_ms,
        events_out,
        record,
        report,
        journaled,
        unacked,
    )
    # Taken before the read: only what was acknowledged by then must be listed (vanished.py).
    before = {} if startup else candidates(mm.orders)
    venue_open = await _open_orders(p, startup=startup, adopt=adopt, is_ours=is_ours)

    if startup:
        if journal_new is None:
            journal_new = since_trade_id is None
        if journal_new:
            # A new journal: everything filled so far is inside the venue position.
            p.adopt_trades(await fetch_trades(gateway, symbol, None))
        else:
            await p.book_since(since_trade_id, venue_open)
        lots, entry = await _settled_position(p, journal_new=journal_new, venue_open=venue_open)
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
        logger.info(report.summary(mm.instrument))
        return report

    sent: list[Fill] = await p.book_since(since_trade_id, venue_open)
    fates = await vanished_fates(
        gateway, mm.orders, symbol, before, venue_open, skip=p.stated, clock_ms=clock_ms,
        instrument=mm.instrument,
    )  # fmt: skip
    for ended in fates.events:
        await p.deliver(ended)
    report.gone = fates.resolved
    if fates.limited is not None:
        raise fates.limited  # the caller waits the venue's Retry-After, as for any read
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
    latched = False
    if abs(report.position_gap) > tolerance_lots:
        report.halted = True
        inst = mm.instrument
        report.halt_reason = (
            f"position mismatch: venue {sized_lots(inst, report.venue_position)}, ours "
            f"{sized_lots(inst, report.our_position)} (tolerance "
            f"{sized_lots(inst, tolerance_lots)}); {MISMATCH_ADVICE}"
        )
        # The periodic reconciliation finds the same mismatch every 30 s while the bot stays
        # HALTED: the kill switch latched for these very figures is not tripped again (each
        # trip was another alert, Telegram message and journaled kill). Other figures trip it
        # again, so its reason says the venue's position as it is now.
        risk = mm.risk
        latched = risk.kill_switch.tripped and risk.position_mismatch == report.halt_reason
        if not latched:
            kill = KillSwitch(report.halt_reason, False, clock_ms(), position_mismatch=True)
            await p.deliver(kill)
    if latched:
        logger.warning("{}; the kill switch stays latched for it", report.summary(mm.instrument))
    else:
        log = logger.error if report.halted else logger.info
        log(report.summary(mm.instrument))
    return report
