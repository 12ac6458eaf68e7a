"""The MarketMaker: the one place the pure core's parts are combined.

``step(event, now) -> list[Command]`` is the whole engine: the runtime feeds every event and
every timer to it and sends what comes back (or ``apply`` each event of a burst, then
``decide`` once). The work is split by responsibility:

- :mod:`mmtrio.core.planner` (:class:`QuotePlanner`): which quotes we want: the quoting
  model, its inputs (volatility, intensity fit, post-only safety, funding), the ladder, and
  the risk view's effect on it (side permissions, size multipliers, streams down);
- :mod:`mmtrio.core.emitter` (:class:`OrderEmitter`): the commands that take the live orders
  to the planned ones (keep/amend/cancel/place, paced; risk-checked at the worst case;
  holding back self-crossing requests), the halt and flatten, expired cancels and queries;
- :mod:`mmtrio.core.notice_log` (:class:`NoticeLog`): notices, alerts and the status lines
  they feed, stamped with the strategy clock;
- :mod:`mmtrio.core.plan_skip` (:class:`PlanGate`): a decision nothing new feeds skips the
  plan and the emission (depth diffs below the touch then cost only the book update);
- :mod:`mmtrio.core.event_dispatch` (its handler table): what each event does to the book,
  the planner's estimators, the ledger and the risk manager; events about our orders go to
  :mod:`mmtrio.core.order_feedback` (the order tracker, the reject policy, fills deduped by
  venue trade id; a fill after a cancel is booked);
- this module: the state those share (the strategy clock, the markouts, the last risk view)
  and each event's handler looked up by its class; then, on ``decide``, risk evaluation and
  planning/emission; reconfiguration, adoption of venue state at reconciliation, and the
  status snapshot.

Each decision:

1. **dispatch** the event; a would-cross reject widens the post-only safety distance,
   accepted post-only places let it decay;
2. **evaluate** risk: HALTED pulls every quote (and flattens when the kill switch asked to);
   REDUCING_ONLY lets only the reducing side quote;
3. **plan** when the book is synced, fresh and every input finite; otherwise an explicit
   "cannot quote" state (status + a notice with the reason) and all quotes are pulled;
4. **emit** the difference between the plan and the live orders.

Decisions where the spec is silent (each what a careful desk does):

- Estimators and markouts are fed the strategy's own clock ``max(now seen)``, never venue
  timestamps: market and user streams interleave and venue times can go backwards.
- User-stream down: our fills would be invisible, so quoting stops and quotes are pulled
  until it is back. Market-stream down: the book is invalid (HALTED via the stale-book guard)
  until a new snapshot.
- An adopted venue order (reconciliation) is put in a non-quoting slot and cancelled: its
  price was chosen by an earlier process under other parameters; a fresh quote replaces it.
- The ledger values the position at the venue mark price; until a MarkPrice event has been
  seen, at the mid of each mid sample.
"""

from __future__ import annotations

from decimal import Decimal

from mmtrio.core.adoption import adopt_order, adopt_position, strategy_status
from mmtrio.core.book import OrderBook
from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import Command
from mmtrio.core.emitter import FLATTEN_LEVEL, OrderEmitter
from mmtrio.core.event_dispatch import HANDLERS, handler_for
from mmtrio.core.events import Event, Fill, OrderUpdate, Side
from mmtrio.core.foreign import ForeignOrders
from mmtrio.core.ledger import Ledger
from mmtrio.core.limits_checkpoint import LimitsCheckpointer
from mmtrio.core.loss_limits import LimitsState
from mmtrio.core.markouts import MarkoutTracker
from mmtrio.core.notice_log import NoticeLog
from mmtrio.core.notices import Notice, QuoteStatus, StrategyStatus
from mmtrio.core.orders import OrderTracker
from mmtrio.core.plan_skip import PlanGate, plan
from mmtrio.core.planner import (
    INTENSITY_MAX_DEPTH_TICKS,
    INTENSITY_REFRESH_MS,
    QuotePlanner,
    build_parts,
)
from mmtrio.core.post_only import PostOnlySafety
from mmtrio.core.risk import ResumeOutcome, RiskManager, RiskView, TradingState
from mmtrio.core.strategy_config import (
    Parts,
    StrategyConfig,
    carry_over_risk,
    kept_parts,
)
from mmtrio.errors import ParameterError


def _build_parts(cfg: StrategyConfig) -> Parts:
    """The estimator-side objects a config determines (validated by their constructors)."""
    vol, intensity, safety = build_parts(cfg)
    return vol, intensity, MarkoutTracker(cfg.instrument, cfg.markout_horizons_ms), safety


class MarketMaker:
    """Events in, commands out; see the module docstring. Not thread-safe (one trading loop)."""

    def __init__(self, config: StrategyConfig, client_ids: ClientIdGenerator) -> None:
        self.config = config
        self.instrument = config.instrument
        self.book = OrderBook(config.instrument.symbol)
        self.orders = OrderTracker()
        self.ledger = Ledger(config.instrument)
        self.risk = RiskManager(config.limits, config.instrument)
        self.log = NoticeLog()
        self.planner = QuotePlanner(config, self.book, self.log)
        self.emitter = OrderEmitter(
            config, self.orders, self.ledger, self.risk, client_ids, self.log
        )
        self.foreign = ForeignOrders(client_ids, config.instrument)  # core/foreign.py
        self.markouts = MarkoutTracker(config.instrument, config.markout_horizons_ms)
        self.markouts.listener = self._on_markout  # the defence learns from our markouts
        self.gate = PlanGate()  # skips a plan nothing new feeds (core/plan_skip.py)
        # The state below is read by the rest of the core and moved only by this class and
        # its event handlers (core/event_dispatch.py).
        self.t = 0  # the strategy clock: max(now) seen
        self._view: RiskView | None = None
        self.last_book_update: int | None = None  # local time of the last applied update
        self._next_mid_sample: int | None = None
        self.mark_price: Decimal | None = None  # the venue's last mark price, if any
        self.venue_position: int | None = None  # last ACCOUNT_UPDATE position (diagnostics)
        # venue clock - local clock (ms), from the runtime's periodic clock sync: the feed
        # latency guard compares venue timestamps with the corrected local time.
        self.venue_offset_ms = 0
        self.limits_checkpoint = LimitsCheckpointer()  # risk_state notices; restore at start-up
        self.last_resume: ResumeOutcome | None = None  # the operator's last resume, answered

    @property
    def safety(self) -> PostOnlySafety:
        """The post-only safety distance in use (the planner's)."""
        return self.planner.safety

    @property
    def view(self) -> RiskView | None:
        return self._view  # the last risk evaluation

    @property
    def notices_dropped(self) -> int:
        return self.log.dropped

    def _tick(self, now: int) -> None:
        # Every event and decision passes here: only a later ``now`` moves the clock (the
        # log's clock is only ever set here, so it already holds ``t`` otherwise).
        if now > self.t:
            self.t = self.log.t = now

    def _notice(self, kind: str, message: str, **data: str | int | float | bool | None) -> Notice:
        return self.log.add(kind, message, **data)

    def drain_notices(self) -> list[Notice]:
        """Every notice since the last drain, oldest first (the buffer is bounded)."""
        return self.log.drain()

    # --- the entry point -------------------------------------------------------------------
    def step(self, event: Event, now: int) -> list[Command]:
        """Process one event at local time ``now`` (ms) and return the commands to send."""
        self._tick(now)
        self._dispatch(event, now)
        return self._act(now)

    def apply(self, event: Event, now: int) -> None:
        """Apply one event without deciding (the runtime applies a burst, then decides once).

        Every book update reaches the book, every trade the estimators, every order event
        the tracker and the ledger; quotes are planned by the next :meth:`decide`, on the
        newest state, instead of once per event on a state that is already stale.
        """
        # Every event of every burst: _tick and _dispatch inlined (the same steps).
        if now > self.t:
            self.t = self.log.t = now
        handler = HANDLERS.get(type(event))
        if handler is None:
            handler = HANDLERS[type(event)] = handler_for(type(event))
        handler(self, event, now)

    def decide(self, now: int) -> list[Command]:
        """Plan on the current state: expire, query, evaluate risk, quote; the commands."""
        self._tick(now)
        return self._act(now)

    def _act(self, now: int) -> list[Command]:
        out: list[Command] = []
        emitter = self.emitter
        emitter.expire_cancels(now)
        emitter.queries_due(now, out)
        self._sample_mid(now)
        equity = self.ledger.equity()
        view = self.risk.evaluate(now, self.ledger.position_lots, equity)
        self._view = view
        if view.change is not None:
            ch = view.change
            self._notice(
                "state_change",
                f"{ch.from_state.value} -> {ch.to_state.value}: {ch.reason}",
                from_state=ch.from_state.value,
                to_state=ch.to_state.value,
                reason=ch.reason,
            )
        self.limits_checkpoint.checkpoint(self.risk, self.ledger, self.log, now)
        if view.state is TradingState.HALTED:
            self.gate.forget()
            emitter.halt(view, now, out, self.planner.flatten_price)
            return out
        plan(self.gate, self.planner, emitter, self.orders, view, now, self.t, out)
        return out

    # --- dispatch ----------------------------------------------------------------------------
    def _dispatch(self, event: Event, now: int) -> None:
        # One dict lookup by the event's class (an isinstance chain cost a call per branch
        # tried, on every event); a subclass finds its nearest registered base once.
        cls = type(event)
        handler = HANDLERS.get(cls)
        if handler is None:
            handler = HANDLERS[cls] = handler_for(cls)
        handler(self, event, now)

    def _sample_mid(self, now: int) -> None:
        mid = self.book.mid() if self.book.synced else None
        if mid is None or mid <= 0:
            self._next_mid_sample = None
            return
        if self._next_mid_sample is not None and now < self._next_mid_sample:
            return
        self._next_mid_sample = now + self.config.mid_sample_ms
        self.markouts.on_mid(mid, self.t)
        if self.mark_price is None:
            self.ledger.mark(self.instrument.tick_size * Decimal(str(mid)))
        bid, ask = self.book.best_bid(), self.book.best_ask()
        self._notice(
            "mid_sample",
            f"mid {mid}",
            symbol=self.instrument.symbol,
            mid=mid,
            bid=None if bid is None else bid[0],
            ask=None if ask is None else ask[0],
        )

    # --- timers -------------------------------------------------------------------------------
    def next_deadline(self) -> int | None:
        """The earliest time the strategy needs a Timer step (None: only events matter)."""
        # Asked after every burst: the earliest candidate kept as they come (no list of them).
        earliest = self.emitter.next_deadline()
        for at in (self.orders.next_deadline(), self._next_mid_sample):
            if at is not None and (earliest is None or at < earliest):
                earliest = at
        if self.last_book_update is not None and self.book.synced:
            # The stale-book guard fires strictly after stale_book_ms without an update; once
            # past, it is not a deadline any more (a past deadline would make the runtime spin).
            stale_at = self.last_book_update + self.config.limits.stale_book_ms + 1
            if stale_at > self.t and (earliest is None or stale_at < earliest):
                earliest = stale_at
        return earliest

    # --- reconfiguration and reconciliation -------------------------------------------------
    def reconfigure(self, config: StrategyConfig, now: int) -> list[Command]:
        """Apply a new config (same symbol) atomically and return the resulting commands.

        Everything new is built before anything is swapped, so a bad config raises and leaves
        the strategy as it was. Book, orders, ledger, kill switch, drawdown peak and order-rate
        history survive; estimators are rebuilt (losing their warm-up) only when their
        parameters changed.
        """
        old = self.config
        if config.instrument != old.instrument:
            raise ParameterError(
                f"reconfigure cannot change the instrument ({old.instrument.symbol} -> "
                f"{config.instrument.symbol}); restart the bot for another symbol"
            )
        vol, intensity, markouts, safety = kept_parts(
            old,
            config,
            current=(self.planner.vol, self.planner.intensity, self.markouts, self.safety),
            built=_build_parts(config),
        )
        risk = carry_over_risk(
            self.risk, old, config, now, book=self.book, last_book_update=self.last_book_update
        )
        # --- swap (nothing below can raise on bad input) ---
        self.planner.swap(config, (vol, intensity, markouts, safety))
        self.emitter.swap(config, risk)
        self.markouts = markouts
        markouts.listener = self._on_markout
        self.risk = risk
        self.config = config
        self._tick(now)
        self._notice("config", "configuration reloaded")
        return self._act(now)

    def _on_markout(self, side: Side, horizon_ms: int, ticks: float, ts: int) -> None:
        self.planner.defence.on_markout(side, horizon_ms, ticks, ts)

    def on_fill_booked(self, fill: Fill, now: int) -> None:
        """A fill was booked in the ledger (once per trade id): markouts, flow, risk state."""
        self.limits_checkpoint.dirty = True  # the fill's P&L is in the next risk_state
        self.markouts.on_fill(fill.side, fill.price, fill.qty, self.t)
        self.risk.on_fill(now)

    # --- limits across restarts (core/limits_checkpoint.py) ----------------------------
    def limits_state(self, now: int) -> LimitsState:
        """What a restart needs to continue the loss limits and the kill switch."""
        return self.limits_checkpoint.state(self.risk, self.ledger, now)

    def restore_limits(self, state: LimitsState, now: int) -> None:
        """Start-up, after the ledger was rebuilt from the journal and before reconciliation
        with the venue: continue the loss limits and a latched kill switch."""
        self._tick(now)
        self.limits_checkpoint.restore(self.risk, self.ledger, self.log, state, now)

    def adopt_position(
        self, lots: int, entry_price: Decimal, now: int, *, gap_reason: str | None = None
    ) -> None:
        """Reconciliation: take the venue's position as the truth (core/adoption.py)."""
        adopt_position(self, lots, entry_price, now, gap_reason)

    def adopt_order(self, update: OrderUpdate, now: int) -> None:
        """Reconciliation: an open venue order of ours (core/adoption.py)."""
        adopt_order(self, update, now)

    # --- status ---------------------------------------------------------------------------------
    def status(self, now: int) -> StrategyStatus:
        """A frozen snapshot for the status screen and metrics (core/adoption.py)."""
        return strategy_status(self, now)


__all__ = [
    "FLATTEN_LEVEL",
    "INTENSITY_MAX_DEPTH_TICKS",
    "INTENSITY_REFRESH_MS",
    "MarketMaker",
    "Notice",
    "QuoteStatus",
    "StrategyStatus",
]
