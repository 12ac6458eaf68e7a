"""The risk layer: limits, the pre-trade check, inventory bands and the RiskManager.

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
- **Inventory bands** on |position| / max_position: WARN is reported only; CRITICAL scales
  the inventory-increasing side's size by ``critical_size_multiplier`` (the quoting model
  already skews prices by inventory, so risk does not widen on top); HARD stops quoting the
  inventory-increasing side entirely.
- **Order-rate limit**: more places/amends in the window than ``max_orders_per_window`` is a
  runaway loop, not a market condition: it trips the kill switch (operator resume needed).
  Set it well above normal flow; the venue's own limits are ``core.ratelimit``'s business.
- **Resume after a drawdown breach** is refused unless the operator passes
  ``override_drawdown=True``, which restarts the drawdown peak at the current equity (the
  operator accepts the loss so far and grants a fresh drawdown budget).
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.events import Side
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


def _fraction(name: str, value: float, *, low_open: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if not low_open < value <= high:
        raise ParameterError(f"{name} must be in ({low_open}, {high}], got {value}")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Hard limits of the risk layer; every value is validated on construction.

    Lots/ms are positive ints; money is a positive finite ``Decimal`` in quote currency;
    the band thresholds are fractions of ``max_position_lots`` with 0 < warn < critical ≤
    hard ≤ 1. ``max_quote_to_trade`` None means the ratio is shown but never warned about.
    """

    max_position_lots: int
    max_notional: Decimal
    max_drawdown: Decimal
    stale_book_ms: int
    max_feed_latency_ms: int
    max_orders_per_window: int
    order_rate_window_ms: int = 60_000
    warn_fraction: float = 0.5
    critical_fraction: float = 0.8
    hard_fraction: float = 1.0
    critical_size_multiplier: float = 0.5
    max_quote_to_trade: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "max_position_lots",
            "stale_book_ms",
            "max_feed_latency_ms",
            "max_orders_per_window",
            "order_rate_window_ms",
        ):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val <= 0:
                raise ParameterError(f"risk limit {name} must be a positive integer, got {val!r}")
        for name in ("max_notional", "max_drawdown"):
            val = getattr(self, name)
            if not isinstance(val, Decimal) or not val.is_finite() or val <= 0:
                raise ParameterError(
                    f"risk limit {name} must be a positive finite Decimal (quote currency), "
                    f"got {val!r}"
                )
        _fraction("warn_fraction", self.warn_fraction, low_open=0.0, high=1.0)
        _fraction("critical_fraction", self.critical_fraction, low_open=0.0, high=1.0)
        _fraction("hard_fraction", self.hard_fraction, low_open=0.0, high=1.0)
        if not self.warn_fraction < self.critical_fraction <= self.hard_fraction:
            raise ParameterError(
                "inventory bands need warn < critical <= hard, got "
                f"{self.warn_fraction}, {self.critical_fraction}, {self.hard_fraction}"
            )
        _fraction("critical_size_multiplier", self.critical_size_multiplier, low_open=0.0, high=1.0)
        if self.order_rate_window_ms % 1000 != 0:
            raise ParameterError(
                f"order_rate_window_ms must be whole seconds, got {self.order_rate_window_ms}"
            )
        if self.max_quote_to_trade is not None:
            _fraction("max_quote_to_trade", self.max_quote_to_trade, low_open=0.0, high=math.inf)


class InventoryBand(enum.Enum):
    """|position| / max_position: NORMAL < warn ≤ WARN < critical ≤ CRITICAL < hard ≤ HARD."""

    NORMAL = "NORMAL"
    WARN = "WARN"
    CRITICAL = "CRITICAL"
    HARD = "HARD"


def band_for(position_lots: int, limits: RiskLimits) -> InventoryBand:
    """The inventory band of ``position_lots`` (a threshold reached belongs to the band)."""
    ratio = abs(position_lots) / limits.max_position_lots
    if ratio >= limits.hard_fraction:
        return InventoryBand.HARD
    if ratio >= limits.critical_fraction:
        return InventoryBand.CRITICAL
    if ratio >= limits.warn_fraction:
        return InventoryBand.WARN
    return InventoryBand.NORMAL


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """Outcome of a pre-trade check; ``reason`` always says why (accepted or not)."""

    allowed: bool
    reason: str
    worst_case_lots: int
    worst_case_notional: Decimal


def _validate(side: Side, price_ticks: int, qty_lots: int, exposure: tuple[int, int]) -> None:
    if not isinstance(side, Side):
        raise ParameterError(f"order side must be a Side, got {side!r}")
    if price_ticks <= 0:
        raise ParameterError(f"order price must be a positive number of ticks, got {price_ticks}")
    if qty_lots <= 0:
        raise ParameterError(f"order quantity must be a positive number of lots, got {qty_lots}")
    if exposure[0] < 0 or exposure[1] < 0:
        raise ParameterError(f"open exposure (buy_lots, sell_lots) must be >= 0, got {exposure}")


def _reduces(side: Side, qty_lots: int, position_lots: int) -> bool:
    return position_lots * side.sign < 0 and qty_lots <= abs(position_lots)


def _core_check(
    limits: RiskLimits,
    instrument: Instrument,
    state: GuardVerdict,
    *,
    side: Side,
    price_ticks: int,
    extra_lots: int,
    total_lots: int,
    reduce_only: bool,
    position_lots: int,
    exposure: tuple[int, int],
    mark_price: Decimal | None,
    what: str,
) -> RiskDecision:
    """Shared rule: ``extra_lots`` is what this request can add to the side's worst case."""
    side_exposure = exposure[0] if side is Side.BUY else exposure[1]
    without = position_lots + side.sign * side_exposure
    worst = without + side.sign * extra_lots
    ref = instrument.ticks_to_price(price_ticks)
    if mark_price is not None:
        if not mark_price.is_finite() or mark_price <= 0:
            raise ParameterError(f"mark price must be a positive finite Decimal, got {mark_price}")
        ref = max(ref, mark_price)
    lot = instrument.base_per_lot
    notional, notional_without = abs(worst) * lot * ref, abs(without) * lot * ref

    def qty(lots: int) -> str:  # messages speak the operator's units, not lots
        return f"{instrument.base_str(lots)} {instrument.base_asset}"

    if reduce_only:
        if _reduces(side, total_lots, position_lots):
            return RiskDecision(True, f"reduce-only {what} reduces the position", worst, notional)
        return RiskDecision(
            False,
            f"reduce-only {side.value} {what} of {qty(total_lots)} would not reduce position "
            f"{qty(position_lots)}",
            worst,
            notional,
        )
    if state.state is TradingState.HALTED:
        return RiskDecision(False, f"trading halted: {state.reason}", worst, notional)
    if extra_lots == 0:
        return RiskDecision(True, f"{what} does not grow the worst case", worst, notional)
    if state.state is TradingState.REDUCING_ONLY:
        # Only orders that move the position toward zero without crossing it.
        if position_lots * side.sign < 0 and worst * position_lots >= 0:
            return RiskDecision(True, f"{what} reduces the position", worst, notional)
        return RiskDecision(
            False,
            f"reducing only ({state.reason}): {side.value} {what} would not reduce position "
            f"{qty(position_lots)} in the worst case ({qty(worst)})",
            worst,
            notional,
        )
    if abs(worst) > limits.max_position_lots and abs(worst) > abs(without):
        return RiskDecision(
            False,
            f"{side.value} {what} worst-case position {qty(worst)} exceeds the limit "
            f"{qty(limits.max_position_lots)} (position {qty(position_lots)}, open "
            f"{side.value.lower()}s {qty(side_exposure)}, this {qty(extra_lots)})",
            worst,
            notional,
        )
    if notional > limits.max_notional and notional > notional_without:
        return RiskDecision(
            False,
            f"{side.value} {what} worst-case notional {notional:.2f} {instrument.quote_asset} "
            f"exceeds the limit {limits.max_notional} ({qty(abs(worst))} at {ref})",
            worst,
            notional,
        )
    return RiskDecision(True, f"{what} within limits", worst, notional)


def check_order(
    limits: RiskLimits,
    instrument: Instrument,
    state: GuardVerdict,
    *,
    side: Side,
    price_ticks: int,
    qty_lots: int,
    reduce_only: bool,
    position_lots: int,
    exposure: tuple[int, int],
    mark_price: Decimal | None,
) -> RiskDecision:
    """Pre-trade check of a new order under ``state``.

    ``exposure`` is (buy_lots, sell_lots) of every open, in-flight and unknown-outcome order
    (remaining quantity), not including this one.
    """
    _validate(side, price_ticks, qty_lots, exposure)
    return _core_check(
        limits,
        instrument,
        state,
        side=side,
        price_ticks=price_ticks,
        extra_lots=qty_lots,
        total_lots=qty_lots,
        reduce_only=reduce_only,
        position_lots=position_lots,
        exposure=exposure,
        mark_price=mark_price,
        what="order",
    )


def check_amend(
    limits: RiskLimits,
    instrument: Instrument,
    state: GuardVerdict,
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
    """Pre-trade check of an amend; ``exposure`` still includes the order's old remaining."""
    _validate(side, new_price_ticks, new_remaining_lots, exposure)
    side_exposure = exposure[0] if side is Side.BUY else exposure[1]
    if not 0 <= old_remaining_lots <= side_exposure:
        raise ParameterError(
            f"amended order's old remaining {old_remaining_lots} lots must be within the "
            f"{side.value} exposure {side_exposure} lots passed with it"
        )
    extra = max(new_remaining_lots - old_remaining_lots, 0)
    return _core_check(
        limits,
        instrument,
        state,
        side=side,
        price_ticks=new_price_ticks,
        extra_lots=extra,
        total_lots=new_remaining_lots,
        reduce_only=reduce_only,
        position_lots=position_lots,
        exposure=exposure,
        mark_price=mark_price,
        what="amend",
    )


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
        self.drawdown = DrawdownTracker(limits.max_drawdown)
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

    def trip_kill_switch(self, reason: str, now: int, *, flatten: bool = False) -> None:
        """Latch HALTED (operator, file flag, external guard); ``flatten`` asks to close out."""
        self.kill_switch.trip(reason, now, flatten=flatten)

    def resume(self, reason: str, *, override_drawdown: bool = False) -> ResumeOutcome:
        """Operator resume: clears the kill switch; after a drawdown breach needs the override."""
        if not reason:
            raise ParameterError("a resume needs a reason (who/why), for the journal")
        if self.drawdown.breached and not override_drawdown:
            return ResumeOutcome(
                False,
                f"resume refused: {self.drawdown.breach_reason}; resume with the drawdown "
                "override to accept the loss and restart the drawdown peak",
            )
        if self.drawdown.breached:
            self.drawdown.rebase()
        self.kill_switch.resume()
        self._pending_resume = reason
        return ResumeOutcome(True, f"resumed: {reason}")

    # --- decisions ------------------------------------------------------------------------
    def verdict(self, now: int) -> GuardVerdict:
        """The most severe demand of all guards at ``now`` (first wins among equals)."""
        worst = _ACTIVE
        for v in (self.kill_switch.verdict(), self.book.verdict(now), self.latency.verdict()):
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
        if equity is not None and self.drawdown.update(equity, now):
            self.kill_switch.trip(self.drawdown.breach_reason or "drawdown breach", now)
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

        band = band_for(position_lots, self.limits)
        allow_bid = allow_ask = verdict.state is TradingState.ACTIVE
        bid_mult = ask_mult = 1.0
        if verdict.state is TradingState.REDUCING_ONLY:
            allow_bid, allow_ask = position_lots < 0, position_lots > 0
        elif verdict.state is TradingState.ACTIVE and position_lots != 0:
            if band is InventoryBand.HARD:
                allow_bid, allow_ask = position_lots < 0, position_lots > 0
            elif band is InventoryBand.CRITICAL:
                if position_lots > 0:
                    bid_mult = self.limits.critical_size_multiplier
                else:
                    ask_mult = self.limits.critical_size_multiplier
        if not allow_bid:
            bid_mult = 0.0
        if not allow_ask:
            ask_mult = 0.0

        qtr = self.flow.quote_to_trade(now)
        warnings: list[str] = []
        if band is not InventoryBand.NORMAL:
            warnings.append(
                f"inventory {band.value}: position "
                f"{self.instrument.base_str(position_lots)} of max "
                f"{self.instrument.base_str(self.limits.max_position_lots)} "
                f"{self.instrument.base_asset}"
            )
        if self.limits.max_quote_to_trade is not None and qtr > self.limits.max_quote_to_trade:
            warnings.append(
                f"quote-to-trade {qtr:.1f} above {self.limits.max_quote_to_trade} over "
                f"{self.limits.order_rate_window_ms} ms"
            )
        return RiskView(
            ts=now,
            state=verdict.state,
            reason=verdict.reason,
            band=band,
            position_lots=position_lots,
            allow_bid=allow_bid,
            allow_ask=allow_ask,
            bid_size_multiplier=bid_mult,
            ask_size_multiplier=ask_mult,
            flatten=self.kill_switch.flatten,
            drawdown=self.drawdown.drawdown,
            peak_equity=self.drawdown.peak,
            quote_to_trade=qtr,
            warnings=tuple(warnings),
            change=change,
        )
