"""The risk layer: the RiskManager, and the decisions behind its limits and checks.

Limits and bands are :mod:`mmtrio.core.risk_limits`, the pre-trade check
:mod:`mmtrio.core.pretrade` (both re-exported here).

The :class:`RiskManager` is the one object the strategy consults: ``evaluate(now, …)``
returns a :class:`RiskView` (trading state and why, inventory band, which sides may quote and
at what size), and ``check_order`` / ``check_amend`` run before EVERY place or amend leaves.
Guards (kill switch, drawdown, stale book, feed latency, order flow) live in
:mod:`mmtrio.core.guards`. Pure: time is an argument, nothing here does I/O.

Decisions recorded here (the spec is silent on them):

- **Worst case counts everything.** A buy is judged on position + every open, in-flight
  and unknown-outcome buy + this order; a sell likewise on the sell side. An order is rejected
  when that worst case is beyond the position or notional limit *and* the order moves it
  further out: an order that shrinks a breached worst case (e.g. a sell while over-long) is
  always allowed, so the limit never traps the position where it is.
- **Notional is valued at max(mark, order price)**: the conservative of the two.
- **Amends**: the caller passes the same exposure as for a place (it still includes the
  amended order's current remaining qty). While an amend is in flight the venue may hold
  either the old or the new size, so the worst case counts max(old, new) remaining; an amend
  that does not grow the size never increases the worst case and is allowed unless HALTED.
- **Reduce-only orders** are allowed in every state (that is how a halted bot flattens) when
  they are on the side opposite to the position and no larger than it; a reduce-only order
  that would not reduce is rejected locally (the venue would reject it too).
- **Inventory bands** on |position| / max_position: WARN is reported only; CRITICAL quotes
  only the reducing side (the config documents "quote only the reducing side"; the quoting
  model already skews prices by inventory, so risk does not widen on top); HARD also refuses
  every inventory-increasing order in the pre-trade check, whatever sent it.
- **Order-rate limit**: more places/amends in the window than ``max_orders_per_window`` is a
  runaway loop, not a market condition: it trips the kill switch (operator resume needed).
  Set it well above normal flow; the venue's own limits are ``core.ratelimit``'s business.
- **Loss limits** (drawdown, daily, cumulative) are judged on the total equity carried
  across restarts (:mod:`mmtrio.core.loss_limits`); a breach latches the kill switch.
- **Resume after a loss-limit breach** is refused unless the operator passes
  ``override=True``, which restarts each breached limit at the current total equity (the
  operator accepts the loss so far and grants a fresh budget); the reason is journaled.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.account_guard import AccountGuard
from mmtrio.core.events import Side
from mmtrio.core.frozen import fast_init
from mmtrio.core.guards import (
    DrawdownTracker,
    FeedLatencyGuard,
    GuardVerdict,
    KillSwitch,
    OrderFlowTracker,
    StaleBookGuard,
    StateChange,
    TradingState,
)
from mmtrio.core.instruments import Instrument
from mmtrio.core.pretrade import RiskDecision, check_amend, check_order
from mmtrio.core.reject_policy import MarginHold
from mmtrio.core.risk_limits import InventoryBand, RiskLimits, band_for
from mmtrio.errors import ParameterError

__all__ = [
    "InventoryBand",
    "ResumeOutcome",
    "RiskDecision",
    "RiskLimits",
    "RiskManager",
    "RiskView",
    "StateChange",
    "TradingState",
    "band_for",
    "check_amend",
    "check_order",
]


@fast_init
@dataclass(frozen=True, slots=True)
class RiskView:
    """What the strategy may do now; the single answer of :meth:`RiskManager.evaluate`."""

    ts: int
    state: TradingState
    reason: str
    band: InventoryBand
    position_lots: int
    allow_bid: bool
    allow_ask: bool
    bid_size_multiplier: float
    ask_size_multiplier: float
    flatten: bool
    drawdown: Decimal
    peak_equity: Decimal | None
    quote_to_trade: float
    warnings: tuple[str, ...]
    change: StateChange | None


@dataclass(frozen=True, slots=True)
class ResumeOutcome:
    """Whether an operator resume was accepted, and why (refusals say what to do)."""

    accepted: bool
    reason: str


_ACTIVE = GuardVerdict(TradingState.ACTIVE, "all risk checks clear")


class RiskManager:
    """Combines limits, bands and guards into one view; feed it observations, ask it often."""

    def __init__(self, limits: RiskLimits, instrument: Instrument, history: int = 256) -> None:
        self.limits = limits
        self.instrument = instrument
        self.kill_switch = KillSwitch()
        # The halt reason of a position mismatch the books have not yet resolved by adopting
        # the venue's position: refuses a resume (see resume).
        self.position_mismatch: str | None = None
        self.losses = limits.loss_limits()
        self.margin = MarginHold()  # REDUCING_ONLY after an insufficient-margin refusal
        self.account = AccountGuard()  # margin ratio and balance, read from the venue
        self.book = StaleBookGuard(limits.stale_book_ms)
        self.latency = FeedLatencyGuard(limits.max_feed_latency_ms)
        self.flow = OrderFlowTracker(
            limits.order_rate_window_ms, buckets=limits.order_rate_window_ms // 1000
        )
        # Start HALTED: nothing is known yet; the first evaluate records the move to ACTIVE
        # (or says why not) as a StateChange, so a journal shows when quoting first began.
        self._state = TradingState.HALTED
        self._pending_resume: str | None = None
        self.history: deque[StateChange] = deque(maxlen=history)

    @property
    def state(self) -> TradingState:
        """The state as of the last :meth:`evaluate`."""
        return self._state

    @property
    def drawdown(self) -> DrawdownTracker:
        """The drawdown of the total equity (part of :attr:`losses`)."""
        return self.losses.drawdown

    # --- observations ---------------------------------------------------------------------
    def on_book_update(self, now: int) -> None:
        """A valid book update (snapshot or applied diff) was processed at ``now``."""
        self.book.on_update(now)

    def on_book_invalid(self, reason: str) -> None:
        """The book is unusable (gap, resync): halt quoting until the next valid update."""
        self.book.invalidate(reason)

    def on_market_message(self, exchange_ts: int, local_ts: int) -> None:
        """A market message stamped ``exchange_ts`` arrived at (offset-corrected) ``local_ts``."""
        self.latency.observe(exchange_ts, local_ts)

    def on_order_sent(self, now: int) -> None:
        """A place or amend left (cancels are not counted)."""
        self.flow.on_order(now)

    def on_fill(self, now: int) -> None:
        """One of our orders filled at ``now`` (for the quote-to-trade ratio)."""
        self.flow.on_fill(now)

    def trip_kill_switch(
        self, reason: str, now: int, *, flatten: bool = False, position_mismatch: bool = False
    ) -> None:
        """Latch HALTED (operator, file flag, external guard); ``flatten`` asks to close out.
        ``position_mismatch``: the books disagree with the venue (see :meth:`resume`)."""
        self.kill_switch.trip(reason, now, flatten=flatten)
        if position_mismatch:
            self.position_mismatch = reason

    def position_adopted(self) -> None:
        """The books took the venue's position: a position mismatch no longer stands."""
        self.position_mismatch = None

    def resume(self, reason: str, *, override: bool = False) -> ResumeOutcome:
        """Operator resume: clears the kill switch; after a loss-limit breach (drawdown, daily,
        cumulative) only with ``override``, which restarts the breached limits."""
        if not reason:
            raise ParameterError("a resume needs a reason (who/why), for the journal")
        if self.position_mismatch is not None:
            # Resuming would quote on a position the venue contradicts (QA: four fills on the
            # wrong view, then the same halt). A restart's start-up adopts the venue's.
            return ResumeOutcome(
                False,
                "resume refused: the books still disagree with the venue "
                f"({self.position_mismatch.split(';', 1)[0]}); a resume does not adopt the "
                "venue's position: investigate, then restart the bot (its start-up adopts the "
                "venue's position, journaled and alerted) and resume",
            )
        breaches = self.losses.breaches
        if breaches and not override:
            return ResumeOutcome(
                False,
                f"resume refused: {'; '.join(breaches)}; resume with the loss-limit override "
                "(mmtrio resume --override --reason …) to accept the loss and restart the limit",
            )
        if breaches:
            self.losses.rebase()
        self.kill_switch.resume()
        self._pending_resume = reason
        return ResumeOutcome(True, f"resumed: {reason}")

    # --- decisions ------------------------------------------------------------------------
    def verdict(self, now: int) -> GuardVerdict:
        """The most severe demand of all guards at ``now`` (first wins among equals)."""
        worst = _ACTIVE
        margin = self.margin.active(now)
        lim = self.limits
        for v in (
            self.kill_switch.verdict(),
            self.book.verdict(now),
            self.latency.verdict(),
            None if margin is None else GuardVerdict(TradingState.REDUCING_ONLY, margin),
            self.account.verdict(
                now,
                reduce_ratio=lim.margin_ratio_reduce,
                halt_ratio=lim.margin_ratio_halt,
                min_balance=lim.min_balance,
            ),
        ):
            if v is not None and v.state.severity > worst.state.severity:
                worst = v
        return worst

    def _rate_gate(self, now: int, pending: int) -> None:
        # ``pending`` is the request being checked: the one that would exceed the limit is
        # refused (the switch is tripped before the check reads the state).
        sent = self.flow.orders(now)
        if sent + pending > self.limits.max_orders_per_window:
            self.kill_switch.trip(
                f"runaway order rate: {sent + pending} places/amends in "
                f"{self.limits.order_rate_window_ms} ms "
                f"(limit {self.limits.max_orders_per_window})",
                now,
            )

    def check_order(
        self,
        now: int,
        *,
        side: Side,
        price_ticks: int,
        qty_lots: int,
        reduce_only: bool,
        position_lots: int,
        exposure: tuple[int, int],
        mark_price: Decimal | None,
    ) -> RiskDecision:
        """Pre-trade check of a new order at ``now`` (see module docstring for the rules)."""
        if not reduce_only:
            self._rate_gate(now, 1)
        return check_order(
            self.limits,
            self.instrument,
            self.verdict(now),
            side=side,
            price_ticks=price_ticks,
            qty_lots=qty_lots,
            reduce_only=reduce_only,
            position_lots=position_lots,
            exposure=exposure,
            mark_price=mark_price,
        )

    def check_amend(
        self,
        now: int,
        *,
        side: Side,
        new_price_ticks: int,
        new_remaining_lots: int,
        old_remaining_lots: int,
        reduce_only: bool,
        position_lots: int,
        exposure: tuple[int, int],
        mark_price: Decimal | None,
    ) -> RiskDecision:
        """Pre-trade check of an amend at ``now``; ``exposure`` includes the old remaining."""
        if not reduce_only:
            self._rate_gate(now, 1)
        return check_amend(
            self.limits,
            self.instrument,
            self.verdict(now),
            side=side,
            new_price_ticks=new_price_ticks,
            new_remaining_lots=new_remaining_lots,
            old_remaining_lots=old_remaining_lots,
            reduce_only=reduce_only,
            position_lots=position_lots,
            exposure=exposure,
            mark_price=mark_price,
        )

    def evaluate(self, now: int, position_lots: int, equity: Decimal | None = None) -> RiskView:
        """Update drawdown with ``equity`` (if given) and return the view at ``now``."""
        if equity is not None:
            for breach in self.losses.update(equity, now):
                self.kill_switch.trip(breach, now)
        self._rate_gate(now, 0)
        verdict = self.verdict(now)
        change = None
        if verdict.state is not self._state:
            reason = verdict.reason
            if verdict.state is TradingState.ACTIVE and self._pending_resume is not None:
                reason = f"{reason} (resumed: {self._pending_resume})"
            change = StateChange(self._state, verdict.state, reason, now)
            self.history.append(change)
            self._state = verdict.state
        self._pending_resume = None

        state = verdict.state
        limits = self.limits
        band = band_for(position_lots, limits)
        allow_bid = allow_ask = state is TradingState.ACTIVE
        if state is TradingState.REDUCING_ONLY or (
            allow_bid and (band is InventoryBand.CRITICAL or band is InventoryBand.HARD)
        ):
            allow_bid, allow_ask = position_lots < 0, position_lots > 0

        qtr = self.flow.quote_to_trade(now)
        max_qtr = limits.max_quote_to_trade
        warnings: tuple[str, ...] = ()  # the usual answer, without building a list
        if band is not InventoryBand.NORMAL or (max_qtr is not None and qtr > max_qtr):
            warnings = self._warnings(band, position_lots, qtr)
        drawdown = self.losses.drawdown
        return RiskView(
            now,
            state,
            verdict.reason,
            band,
            position_lots,
            allow_bid,
            allow_ask,
            1.0 if allow_bid else 0.0,
            1.0 if allow_ask else 0.0,
            self.kill_switch.flatten,
            drawdown.drawdown,
            drawdown.peak,
            qtr,
            warnings,
            change,
        )  # positional, in RiskView's field order: the hot path's one call

    def _warnings(self, band: InventoryBand, position_lots: int, qtr: float) -> tuple[str, ...]:
        """What a view in a non-normal band or above the quote-to-trade limit says."""
        inst, limits = self.instrument, self.limits
        warnings: list[str] = []
        if band is not InventoryBand.NORMAL:
            warnings.append(
                f"inventory {band.value}: position "
                f"{inst.lots_to_base(position_lots)} of max "
                f"{inst.lots_to_base(limits.max_position_lots)} "
                f"{inst.base_asset}"
            )
        if limits.max_quote_to_trade is not None and qtr > limits.max_quote_to_trade:
            warnings.append(
                f"quote-to-trade {qtr:.1f} above {limits.max_quote_to_trade} over "
                f"{limits.order_rate_window_ms} ms"
            )
        return tuple(warnings)
