"""The MarketMaker: the one place the pure core's parts are combined.

``step(event, now) -> list[Command]`` is the whole engine: the runtime feeds every event and
every timer to it and sends what comes back. Each step:

1. **dispatch** the event into the book (continuous by the venue's sequencer), the
   estimators, the order tracker, the ledger (fills deduped by venue trade id; a fill after a
   cancel is booked) and the risk manager; a would-cross reject widens the post-only safety
   distance, accepted post-only places
   let it decay;
2. **evaluate** risk: HALTED cancels every live order once (``CancelAll`` plus the per-order
   pending-cancel state, so the slots stay blocked until each cancel is confirmed or times out)
   and, when the kill switch asked to flatten, sends reduce-only IOC orders within
   ``flatten_slippage_bps`` of the touch; REDUCING_ONLY lets only the reducing side quote;
3. **quote** when the book is synced, fresh and every input finite; otherwise an explicit
   "cannot quote" state (status + a notice with the reason) and all quotes are pulled;
4. **reconcile** the desired quotes with the slots (:mod:`mmtrio.core.slots`), cancel orphans
   and stray orders, expire unconfirmed cancels and query unknown outcomes after
   ``query_delay_ms``.

Every place/amend passes ``risk.check_order``/``check_amend`` with the tracker's worst-case
exposure, and is registered in the tracker *before* the next check in the same step, so two
orders of one step can never jointly breach a limit.

Decisions where the spec is silent (each what a careful desk does):

- Estimators and markouts are fed the strategy's own clock ``max(now seen)``, never venue
  timestamps: market and user streams interleave and venue times can go backwards.
- σ is the EWMA volatility of the mid in ticks/√s once warmed up, else the configured
  fallback (the status says which). (A, k) are refitted at most once per
  ``INTENSITY_REFRESH_MS``: the fit sorts the whole window, too slow for every depth diff.
- Risk size multipliers scale each level's size down (floor), then the venue minimum is
  restored but never above the model's size; a level scaled below one lot is withdrawn.
- A new or amended quote must not cross any live order of ours on the other side (the
  older price of an amend in flight counts too): such a request is held back this step.
- User-stream down: our fills would be invisible, so quoting stops and quotes are pulled
  until it is back. Market-stream down: the book is invalid (HALTED via the stale-book guard)
  until a new snapshot.
- Unknown outcomes are queried ``query_delay_ms`` after they became unknown, and re-queried
  every ``query_delay_ms`` until a venue fact resolves them (a lost query answer must not
  leave an order unknown forever).
- An adopted venue order (reconciliation) is put in a non-quoting slot and cancelled: its
  price was chosen by an earlier process under other parameters; a fresh quote replaces it.
- The ledger values the position at the venue mark price; until a MarkPrice event has been
  seen, at the mid of each mid sample.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Final

from mmtrio.core.book import BookOutcome, OrderBook
from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    PlaceOrder,
    QueryOrder,
)
from mmtrio.core.estimators import (
    EwmaVolatility,
    IntensityEstimator,
    IntensityParams,
    NotEnoughData,
    microprice,
)
from mmtrio.core.events import (
    AccountUpdate,
    AmendAccepted,
    AmendRejected,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    BookTicker,
    CancelAccepted,
    CancelRejected,
    Event,
    FeedStatus,
    FundingPayment,
    KillSwitch,
    MarkPrice,
    OrderNotFound,
    OrderUpdate,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
    Resume,
    Side,
    TimeInForce,
    Timer,
    Trade,
)
from mmtrio.core.ledger import Ledger
from mmtrio.core.markouts import MarkoutTracker
from mmtrio.core.notices import Notice, NoticeValue, QuoteStatus, StrategyStatus
from mmtrio.core.orders import Order, OrderState, OrderTracker, Slot
from mmtrio.core.quoting import (
    CannotQuote,
    MarketView,
    ModelInputs,
    PostOnlySafety,
    Quote,
    QuoteParams,
    quote,
)
from mmtrio.core.rejects import RejectKind
from mmtrio.core.risk import (
    InventoryBand,
    RiskManager,
    RiskView,
    TradingState,
    band_for,
)
from mmtrio.core.slots import ActionKind, Tolerances, reconcile
from mmtrio.core.strategy_config import ADOPTED_LEVEL, StrategyConfig, carry_over_risk, kept_parts
from mmtrio.errors import ParameterError

FLATTEN_LEVEL: Final = -1  # slot level of reduce-only flatten orders (never a quoting slot)
INTENSITY_REFRESH_MS: Final = 1_000
INTENSITY_MAX_DEPTH_TICKS: Final = 50.0  # depth range of the λ(δ) fit; quotes sit well inside
MAX_NOTICES: Final = 10_000  # undrained notices beyond this are dropped (counted)
LAST_FILLS: Final = 20
LAST_ALERTS: Final = 20
_DIGITS = re.compile(r"\d+")
_CANCELLABLE = frozenset({OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.PENDING_AMEND})


def _build_parts(
    cfg: StrategyConfig,
) -> tuple[EwmaVolatility, IntensityEstimator, MarkoutTracker, PostOnlySafety]:
    """The estimator-side objects a config determines (validated by their constructors)."""
    vol = EwmaVolatility(cfg.vol_half_life_ms, cfg.vol_min_returns)
    intensity = IntensityEstimator(
        cfg.intensity_window_ms,
        INTENSITY_MAX_DEPTH_TICKS,
        cfg.intensity_min_trades,
        fallback_a=cfg.fallback_a,
        fallback_k=cfg.fallback_k,
    )
    markouts = MarkoutTracker(cfg.instrument, cfg.markout_horizons_ms)
    safety = PostOnlySafety(
        cfg.post_only_base_ticks, cfg.post_only_max_ticks, cfg.post_only_decay_after
    )
    return vol, intensity, markouts, safety


class MarketMaker:
    """Events in, commands out; see the module docstring. Not thread-safe (one trading loop)."""

    def __init__(self, config: StrategyConfig, client_ids: ClientIdGenerator) -> None:
        self.config = config
        self.instrument = config.instrument
        self._ids = client_ids
        self.book = OrderBook(config.instrument.symbol)
        self.orders = OrderTracker()
        self.ledger = Ledger(config.instrument)
        self.risk = RiskManager(config.limits, config.instrument)
        self._vol, self._intensity, self.markouts, self.safety = _build_parts(config)
        self._t = 0  # the strategy clock: max(now) seen
        self._notices: deque[Notice] = deque(maxlen=MAX_NOTICES)
        self.notices_dropped = 0
        self._last_fills: deque[Notice] = deque(maxlen=LAST_FILLS)
        self._alerts: deque[Notice] = deque(maxlen=LAST_ALERTS)
        self._last_action: dict[Slot, int] = {}
        self._requote_at: int | None = None
        self._queries: dict[str, int] = {}  # client id -> when to (re)query
        self._blocked: dict[str, str] = {}  # stream -> why quoting is blocked
        self._halt_handled = False
        self._view: RiskView | None = None
        self._cannot_quote = "no book yet"
        self._last_book_update: int | None = None
        self._next_mid_sample: int | None = None
        self._last_hold_back: str | None = None  # the last held-back alert, said once
        self._mark_price: Decimal | None = None
        self._funding_rate = 0.0
        self._params: IntensityParams | None = None
        self._params_at = -(10**18)
        # The last (config.quote, allow_bid, allow_ask) -> QuoteParams: rebuilding (and
        # re-validating) the frozen params on every step is a hot-path cost; same value.
        self._quote_params: tuple[QuoteParams, bool, bool, QuoteParams] | None = None
        self._sigma = config.sigma_fallback_ticks
        self._sigma_source = "fallback"
        self.venue_position: int | None = None  # last ACCOUNT_UPDATE position (diagnostics)

    # --- notices ---------------------------------------------------------------------------
    def _notice(self, kind: str, message: str, **data: NoticeValue) -> Notice:
        if len(self._notices) == self._notices.maxlen:
            self.notices_dropped += 1
        note = Notice(kind, self._t, message, data)
        self._notices.append(note)
        if kind == "alert":
            self._alerts.append(note)
        elif kind == "fill":
            self._last_fills.append(note)
        return note

    def drain_notices(self) -> list[Notice]:
        """Every notice since the last drain, oldest first (the buffer is bounded)."""
        out = list(self._notices)
        self._notices.clear()
        return out

    # --- the entry point -------------------------------------------------------------------
    def step(self, event: Event, now: int) -> list[Command]:
        """Process one event at local time ``now`` (ms) and return the commands to send."""
        self._t = max(self._t, now)
        self._dispatch(event, now)
        return self._act(now)

    def apply(self, event: Event, now: int) -> None:
        """Apply one event without deciding (the runtime applies a burst, then decides once).

        Every book update reaches the book, every trade the estimators, every order event
        the tracker and the ledger; quotes are planned by the next :meth:`decide`, on the
        newest state, instead of once per event on a state that is already stale.
        """
        self._t = max(self._t, now)
        self._dispatch(event, now)

    def decide(self, now: int) -> list[Command]:
        """Plan on the current state: expire, query, evaluate risk, quote; the commands."""
        self._t = max(self._t, now)
        return self._act(now)

    def _act(self, now: int) -> list[Command]:
        out: list[Command] = []
        for cid in self.orders.expire_cancels(now):
            self._queries.setdefault(cid, now + self.config.query_delay_ms)
            self._notice(
                "alert", f"cancel of {cid} unconfirmed by its deadline: slot freed", client_id=cid
            )
        self._queries_due(now, out)
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
        if view.state is TradingState.HALTED:
            self._halt(view, now, out)
            return out
        self._halt_handled = False
        desired = self._desired(view, now)
        self._reconcile(desired, now, out)
        return out

    # --- dispatch ----------------------------------------------------------------------------
    def _dispatch(self, event: Event, now: int) -> None:
        if isinstance(event, BookDelta):
            self._on_book_outcome(self.book.apply_delta(event), now)
            self.risk.on_market_message(event.ts, now)
        elif isinstance(event, BookSnapshot):
            # A venue that sends whole snapshots (Hyperliquid) has no deltas: its snapshots
            # are its market messages, and their time is what staleness is judged by.
            self._on_book_outcome(self.book.apply_snapshot(event), now)
            self.risk.on_market_message(event.ts, now)
        elif isinstance(event, Trade):
            if event.symbol == self.instrument.symbol and event.price > 0:
                self._intensity.on_trade(float(event.price), event.aggressor, self._t)
            self.risk.on_market_message(event.ts, now)
        elif isinstance(event, BookTicker):
            self.risk.on_market_message(event.ts, now)
        elif isinstance(event, MarkPrice):
            self._on_mark(event)
        elif isinstance(
            event,
            OrderUpdate
            | PlaceAccepted
            | PlaceRejected
            | AmendAccepted
            | AmendRejected
            | CancelAccepted
            | CancelRejected
            | OutcomeUnknown
            | OrderNotFound,
        ):
            self._on_order_event(event, now)
        elif isinstance(event, AccountUpdate):
            for pos in event.positions:
                if pos.symbol == self.instrument.symbol:
                    self.venue_position = pos.amount
        elif isinstance(event, FundingPayment):
            if event.symbol == self.instrument.symbol:
                self.ledger.on_funding(event.amount, event.ts)
        elif isinstance(event, BookInvalid):
            self.book.mark_out_of_sync(event.reason)
            self.risk.on_book_invalid(event.reason)
            self._notice("alert", f"book invalid: {event.reason}", reason=event.reason)
        elif isinstance(event, FeedStatus):
            self._on_feed(event)
        elif isinstance(event, KillSwitch):
            self.risk.trip_kill_switch(event.reason, now, flatten=event.flatten)
            self._notice(
                "alert", f"kill switch: {event.reason}", reason=event.reason, flatten=event.flatten
            )
        elif isinstance(event, Resume):
            outcome = self.risk.resume(event.reason)
            self._notice("alert", outcome.reason, accepted=outcome.accepted)
        elif isinstance(event, Timer):
            pass  # the step itself does the timed work (deadlines, queries, requotes)

    def _on_book_outcome(self, outcome: BookOutcome, now: int) -> None:
        if outcome is BookOutcome.APPLIED:
            self.risk.on_book_update(now)
            self._last_book_update = now
            mid = self.book.mid()
            if mid is not None and mid > 0:
                self._vol.update(mid, self._t)
                self._intensity.on_mid(mid, self._t)
        elif outcome is BookOutcome.CROSSED:
            reason = self.book.out_of_sync_reason or outcome.value
            self.risk.on_book_invalid(reason)
            self._notice("alert", f"book out of sync: {reason}", reason=reason)
            # Our own check failed where the feed's did not (a crossed book after a delta
            # the sequencer accepted): quoting stays off until the feed brings a fresh snapshot.
            self._notice("book_resync", f"resync needed: {reason}", reason=reason)

    def _on_mark(self, event: MarkPrice) -> None:
        if event.symbol != self.instrument.symbol:
            return
        if event.mark_price.is_finite() and event.mark_price > 0:
            self._mark_price = event.mark_price
            self.ledger.mark(event.mark_price)
        rate = float(event.funding_rate)
        if math.isfinite(rate):
            self._funding_rate = rate

    def _on_feed(self, event: FeedStatus) -> None:
        if event.connected:
            if self._blocked.pop(event.stream, None) is not None:
                self._notice("alert", f"{event.stream} stream back", stream=event.stream)
            return
        reason = f"{event.stream} stream down: {event.reason}"
        self._blocked[event.stream] = reason
        if event.stream == "market":
            self.book.mark_out_of_sync(reason)
            self.risk.on_book_invalid(reason)
        self._notice("alert", reason, stream=event.stream)

    def _on_order_event(
        self,
        event: OrderUpdate
        | PlaceAccepted
        | PlaceRejected
        | AmendAccepted
        | AmendRejected
        | CancelAccepted
        | CancelRejected
        | OutcomeUnknown
        | OrderNotFound,
        now: int,
    ) -> None:
        if isinstance(event, OrderUpdate) and event.symbol != self.instrument.symbol:
            self._notice(
                "alert", f"order update for {event.symbol} ignored", client_id=event.client_id
            )
            return
        before = self.orders.get(event.client_id)
        change = self.orders.on_event(event)
        post_only = before is not None and before.time_in_force is TimeInForce.POST_ONLY
        if isinstance(event, PlaceRejected | AmendRejected):
            if event.kind is RejectKind.WOULD_CROSS and post_only:
                self.safety.on_reject()
            said = f"{event.kind.value} ({event.code})" if event.code else event.kind.value
            self._notice(
                "reject",
                f"{type(event).__name__} {event.client_id}: {said} {event.reason}",
                client_id=event.client_id,
                reject_kind=event.kind.value,
                code=event.code,
                reason=event.reason,
                safety_ticks=self.safety.ticks,
            )
        elif isinstance(event, PlaceAccepted) and post_only and change.changed:
            self.safety.on_success()
        elif isinstance(event, OutcomeUnknown) and change.order is not None:
            self._queries[event.client_id] = now + self.config.query_delay_ms
        fill = change.fill
        if fill is not None and fill.symbol == self.instrument.symbol:
            mid = self.book.mid() if self.book.synced else None
            mid_dec = None if mid is None else self.instrument.tick_size * Decimal(str(mid))
            if self.ledger.on_fill(fill, mid_dec):
                self.markouts.on_fill(fill.side, fill.price, fill.qty, self._t)
                self.risk.on_fill(now)
                self._notice(
                    "fill",
                    f"fill {fill.side.value} {self._qty(fill.qty)} @ {self._price(fill.price)}"
                    f" ({fill.client_id}); position "
                    f"{self.instrument.lots_to_qty(self.ledger.position_lots):+}"
                    f" {self.instrument.base_asset}",
                    client_id=fill.client_id,
                    trade_id=fill.trade_id,
                    side=fill.side.value,
                    price=fill.price,
                    qty=fill.qty,
                    fee=str(fill.fee),
                    maker=fill.is_maker,
                    position=self.ledger.position_lots,
                )

    # --- timed work --------------------------------------------------------------------------
    def _queries_due(self, now: int, out: list[Command]) -> None:
        for order in self.orders.live_orders():
            if order.state is OrderState.UNKNOWN and order.client_id not in self._queries:
                self._queries[order.client_id] = now + self.config.query_delay_ms
        for cid, due in list(self._queries.items()):
            tracked = self.orders.get(cid)
            if tracked is None or tracked.state is not OrderState.UNKNOWN:
                del self._queries[cid]
            elif due <= now:
                out.append(QueryOrder(cid, self.instrument.symbol))
                self._queries[cid] = now + self.config.query_delay_ms
                self._notice("query", f"querying {cid} ({tracked.reason})", client_id=cid)

    def _sample_mid(self, now: int) -> None:
        mid = self.book.mid() if self.book.synced else None
        if mid is None or mid <= 0:
            self._next_mid_sample = None
            return
        if self._next_mid_sample is not None and now < self._next_mid_sample:
            return
        self._next_mid_sample = now + self.config.mid_sample_ms
        self.markouts.on_mid(mid, self._t)
        if self._mark_price is None:
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

    # --- halted -------------------------------------------------------------------------------
    def _halt(self, view: RiskView, now: int, out: list[Command]) -> None:
        symbol = self.instrument.symbol
        deadline = now + self.config.cancel_deadline_ms
        live = [o for o in self.orders.live_orders() if o.slot[1] != FLATTEN_LEVEL]
        if not self._halt_handled and live:
            # Only when something of ours may rest: a CancelAll with nothing to cancel (e.g.
            # at start-up, HALTED until the first book) would be noise in the journal.
            self._halt_handled = True
            out.append(CancelAll(symbol, view.reason))
            for order in self.orders.live_orders():
                if order.state in _CANCELLABLE and order.slot[1] != FLATTEN_LEVEL:
                    self.orders.request_cancel(order.client_id, now, deadline)
            self._notice(
                "alert", f"halted: cancelling all orders ({view.reason})", reason=view.reason
            )
        else:
            # Orders acknowledged (or resolved open) after the CancelAll: cancel them one by one.
            for order in self.orders.live_orders():
                if order.state in _CANCELLABLE and order.slot[1] != FLATTEN_LEVEL:
                    self._cancel(order, now, out, "halted")
        self._set_cannot_quote(f"halted: {view.reason}")
        self._requote_at = None
        if view.flatten:
            self._flatten(now, out)

    def _flatten(self, now: int, out: list[Command]) -> None:
        pos = self.ledger.position_lots
        if pos == 0:
            return
        side = Side.SELL if pos > 0 else Side.BUY
        slot: Slot = (side, FLATTEN_LEVEL)
        if any(o.side is side for o in self.orders.live_orders()):
            # One flatten order at a time (IOC: it ends quickly), and none while a quote on
            # the same side may still be live: the quote could fill after the flatten took the
            # position to zero and push it past the limit on the other side.
            return
        last = self._last_action.get(slot)
        if last is not None and now < last + self.config.min_requote_interval_ms:
            self._requote_at = last + self.config.min_requote_interval_ms
            return
        bid, ask = self.book.best_bid(), self.book.best_ask()
        touch = bid if side is Side.SELL else ask
        if not self.book.synced or touch is None:
            self._notice("alert", "cannot flatten: no usable book", position=pos)
            return
        # Exact arithmetic; the offset is rounded toward the touch so the bound always holds.
        bps = Fraction(str(self.config.flatten_slippage_bps))
        offset = math.floor(touch[0] * bps / 10_000)
        price = touch[0] - offset if side is Side.SELL else touch[0] + offset
        price = min(max(price, self.instrument.min_price_ticks), self.instrument.max_price_ticks)
        # Onto the price grid, toward the touch: the limit stays within the slippage bound.
        inst = self.instrument
        price = inst.ceil_price(price) if side is Side.SELL else inst.floor_price(price)
        qty = min(abs(pos), self.instrument.max_qty)
        self._place(slot, side, price, qty, now, out, tif=TimeInForce.IOC, reduce_only=True)

    # --- quoting ----------------------------------------------------------------------------
    def _set_cannot_quote(self, reason: str) -> None:
        # One notice per distinct reason, numbers ignored ("stale 5010 ms" then "stale 5020 ms"
        # is one condition, not a notice per step).
        if reason and _DIGITS.sub("#", reason) != _DIGITS.sub("#", self._cannot_quote):
            self._notice("cannot_quote", reason, reason=reason)
        self._cannot_quote = reason

    def _inputs(self, now: int) -> ModelInputs:
        sig = self._vol.sigma_price(1000.0)
        if isinstance(sig, NotEnoughData) or not math.isfinite(sig):
            self._sigma, self._sigma_source = self.config.sigma_fallback_ticks, "fallback"
        else:
            self._sigma, self._sigma_source = sig, "ewma"
        if self._params is None or now - self._params_at >= INTENSITY_REFRESH_MS:
            self._params = self._intensity.params(self._t)
            self._params_at = now
        return ModelInputs(self._sigma, self._params.a, self._params.k)

    def _desired(self, view: RiskView, now: int) -> dict[Slot, Quote]:
        """The quotes we want now, by slot; empty (with a reason) when we cannot quote."""
        reason = self._why_not_quote()
        if reason:
            self._set_cannot_quote(reason)
            return {}
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is None or ask is None:
            self._set_cannot_quote("book side empty")
            return {}
        mid = (bid[0] + ask[0]) / 2
        try:
            micro = microprice(bid[0], bid[1], ask[0], ask[1])
        except ParameterError as exc:
            self._set_cannot_quote(f"no microprice: {exc}")
            return {}
        inputs = self._inputs(now)
        for name in ("sigma", "a", "k"):
            if not math.isfinite(getattr(inputs, name)):
                self._set_cannot_quote(f"model input {name} is not finite")
                return {}
        qp = self._quote_params
        base = self.config.quote
        if qp is None or qp[0] is not base or (qp[1], qp[2]) != (view.allow_bid, view.allow_ask):
            built = replace(base, allow_bid=view.allow_bid, allow_ask=view.allow_ask)
            qp = self._quote_params = (base, view.allow_bid, view.allow_ask, built)
        params = qp[3]
        result = quote(
            self.instrument,
            MarketView(bid[0], ask[0], mid, micro),
            inventory_lots=view.position_lots,
            inputs=inputs,
            params=params,
            funding_rate=self._funding_rate,
            safety_ticks=self.safety.ticks,
        )
        if isinstance(result, CannotQuote):
            self._set_cannot_quote(result.reason)
            return {}
        desired: dict[Slot, Quote] = {}
        for quotes, mult in (
            (result.bids, view.bid_size_multiplier),
            (result.asks, view.ask_size_multiplier),
        ):
            for q in quotes:
                qty = self._scaled(q, mult)
                if qty is not None:
                    desired[(q.side, q.level)] = replace(q, qty_lots=qty)
        if not desired:
            self._set_cannot_quote("risk size multipliers leave no level")
            return {}
        self._set_cannot_quote("")
        return desired

    def _why_not_quote(self) -> str:
        if self._blocked:
            return "; ".join(sorted(self._blocked.values()))
        if not self.book.synced:
            return f"book not synced: {self.book.out_of_sync_reason}"
        return ""

    def _scaled(self, q: Quote, mult: float) -> int | None:
        if mult >= 1.0:
            return q.qty_lots
        scaled = math.floor(q.qty_lots * mult)
        if scaled < 1:
            return None
        return min(q.qty_lots, max(scaled, self.instrument.min_lots_for_notional(q.price_ticks)))

    def _held(self) -> tuple[dict[Slot, Order], list[Order]]:
        """Orders in quoting slots, and live orders to cancel (orphans, strays)."""
        held: dict[Slot, Order] = {}
        levels = self.config.quote.levels
        strays: list[Order] = list(self.orders.orphans())
        for order in self.orders.live_orders():
            if self.orders.slot_order(order.slot) is not order:
                continue
            level = order.slot[1]
            if 0 <= level < levels:
                held[order.slot] = order
            elif level != FLATTEN_LEVEL:
                strays.append(order)
        return held, strays

    def _reconcile(self, desired: dict[Slot, Quote], now: int, out: list[Command]) -> None:
        held, strays = self._held()
        for order in strays:
            if order.state in _CANCELLABLE:
                self._cancel(order, now, out, "orphan")
        tol = Tolerances(
            self.config.reprice_tolerance_ticks,
            self.config.size_tolerance_lots,
            self.config.min_requote_interval_ms,
            self.config.use_amend,
        )
        self._requote_at = None
        for action in reconcile(desired, held, now=now, last_action=self._last_action, tol=tol):
            if action.kind is ActionKind.CANCEL and action.order is not None:
                self._cancel(action.order, now, out, action.reason)
            elif action.kind is ActionKind.AMEND and action.order and action.quote:
                self._amend(action.order, action.quote, now, out)
            elif action.kind is ActionKind.PLACE and action.quote is not None:
                q = action.quote
                self._place(action.slot, q.side, q.price_ticks, q.qty_lots, now, out)
            elif (
                action.kind is ActionKind.WAIT
                and action.until is not None
                and (self._requote_at is None or action.until < self._requote_at)
            ):
                self._requote_at = action.until

    # --- emission (every request goes through here) ------------------------------------------
    def _crosses_own(self, side: Side, price: int) -> bool:
        """True if ``price`` on ``side`` would meet a live order of ours on the other side."""
        for order in self.orders.live_orders():
            if order.side is side:
                continue
            prices: Iterable[int] = (order.price,)
            if order.pending_amend is not None:
                prices = (order.price, order.pending_amend[0])
            for p in prices:
                if (side is Side.BUY and p <= price) or (side is Side.SELL and p >= price):
                    return True
        return False

    def _hold_back(self, message: str) -> None:
        """Alert that a request was held back, once per distinct case: the same case repeats
        every step until our other order moves, and an alert per step is noise (and time)."""
        if message != self._last_hold_back:
            self._last_hold_back = message
            self._notice("alert", message)

    def _place(  # noqa: PLR0917 - one request's fields
        self,
        slot: Slot,
        side: Side,
        price: int,
        qty: int,
        now: int,
        out: list[Command],
        *,
        tif: TimeInForce = TimeInForce.POST_ONLY,
        reduce_only: bool = False,
    ) -> None:
        # Reduce-only flatten orders too: an IOC through our own resting quote would trade
        # with ourselves (the venue's self-trade prevention would expire one side anyway).
        if self._crosses_own(side, price):
            self._hold_back(f"{side.value} {price} held back: would cross our own order")
            return
        decision = self.risk.check_order(
            now,
            side=side,
            price_ticks=price,
            qty_lots=qty,
            reduce_only=reduce_only,
            position_lots=self.ledger.position_lots,
            exposure=self.orders.worst_case_exposure(),
            mark_price=self._mark_price,
        )
        if not decision.allowed:
            self._notice(
                "reject",
                f"local risk refused {side.value} {qty}@{price}: {decision.reason}",
                side=side.value,
                price=price,
                qty=qty,
                reject_kind=RejectKind.LOCAL.value,
                code="",
                reason=decision.reason,
            )
            return
        cid = self._ids.next()
        self.orders.new_order(cid, slot, side, price, qty, tif, reduce_only, now)
        if not reduce_only:
            self.risk.on_order_sent(now)
        self._last_action[slot] = now
        out.append(PlaceOrder(cid, self.instrument.symbol, side, price, qty, tif, reduce_only))
        self._notice(
            "quote",
            f"place {side.value} L{slot[1]} {self._qty(qty)} @ {self._price(price)}",
            client_id=cid,
            side=side.value,
            level=slot[1],
            price=price,
            qty=qty,
            tif=tif.value,
            reduce_only=reduce_only,
        )

    def _amend(self, order: Order, q: Quote, now: int, out: list[Command]) -> None:
        if self._crosses_own(order.side, q.price_ticks):
            self._hold_back(
                f"amend of {order.client_id} to {self._price(q.price_ticks)} held back: "
                "would cross our own order"
            )
            return
        decision = self.risk.check_amend(
            now,
            side=order.side,
            new_price_ticks=q.price_ticks,
            new_remaining_lots=q.qty_lots,
            old_remaining_lots=order.remaining,
            reduce_only=order.reduce_only,
            position_lots=self.ledger.position_lots,
            exposure=self.orders.worst_case_exposure(),
            mark_price=self._mark_price,
        )
        if not decision.allowed:
            self._notice(
                "reject",
                f"local risk refused amend of {order.client_id}: {decision.reason}",
                client_id=order.client_id,
                reject_kind=RejectKind.LOCAL.value,
                code="",
                reason=decision.reason,
            )
            # The order is no longer what we want and may not be changed: pull it.
            self._cancel(order, now, out, "amend refused by risk")
            return
        total = order.filled + q.qty_lots
        self.orders.request_amend(order.client_id, q.price_ticks, total, now)
        self.risk.on_order_sent(now)
        self._last_action[order.slot] = now
        out.append(
            AmendOrder(order.client_id, self.instrument.symbol, order.side, q.price_ticks, total)
        )
        self._notice(
            "quote",
            f"amend {order.client_id} to {self._qty(q.qty_lots)} @ {self._price(q.price_ticks)}",
            client_id=order.client_id,
            side=order.side.value,
            level=order.slot[1],
            price=q.price_ticks,
            qty=total,
        )

    def _cancel(self, order: Order, now: int, out: list[Command], reason: str) -> None:
        if order.state not in _CANCELLABLE:
            return
        self.orders.request_cancel(order.client_id, now, now + self.config.cancel_deadline_ms)
        self._last_action[order.slot] = now
        out.append(CancelOrder(order.client_id, self.instrument.symbol))
        self._notice(
            "cancel",
            f"cancel {order.client_id} ({reason})",
            client_id=order.client_id,
            reason=reason,
        )

    # --- timers -------------------------------------------------------------------------------
    def next_deadline(self) -> int | None:
        """The earliest time the strategy needs a Timer step (None: only events matter)."""
        times: list[int] = []
        tracker = self.orders.next_deadline()
        if tracker is not None:
            times.append(tracker)
        times.extend(self._queries.values())
        if self._requote_at is not None:
            times.append(self._requote_at)
        if self._next_mid_sample is not None:
            times.append(self._next_mid_sample)
        if self._last_book_update is not None and self.book.synced:
            # The stale-book guard fires strictly after stale_book_ms without an update; once
            # past, it is not a deadline any more (a past deadline would make the runtime spin).
            stale_at = self._last_book_update + self.config.limits.stale_book_ms + 1
            if stale_at > self._t:
                times.append(stale_at)
        return min(times) if times else None

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
            current=(self._vol, self._intensity, self.markouts, self.safety),
            built=_build_parts(config),
        )
        risk = carry_over_risk(
            self.risk, old, config, now, book=self.book, last_book_update=self._last_book_update
        )
        # --- swap (nothing below can raise on bad input) ---
        if intensity is not self._intensity:
            self._params = None  # refit with the new estimator at the next step
        self._vol, self._intensity, self.markouts, self.safety = vol, intensity, markouts, safety
        self.risk = risk
        self.config = config
        self._t = max(self._t, now)
        self._notice("config", "configuration reloaded")
        return self._act(now)

    def adopt_position(
        self, lots: int, entry_price: Decimal, now: int, *, gap_reason: str | None = None
    ) -> None:
        """Reconciliation: take the venue's position as the truth (recorded as an adjustment).

        ``gap_reason``: why the books and the venue differ when no booked trade explains it;
        such an adoption is also an alert (an operator must see it), never silent."""
        adj = self.ledger.set_position(lots, entry_price, now)
        self._notice(
            "reconcile",
            f"position adopted: {self._qty(adj.lots_before)} -> {self._qty(adj.lots_after)}",
            lots_before=adj.lots_before,
            lots_after=adj.lots_after,
            equity_effect=str(adj.equity_effect),
        )
        if gap_reason is not None and adj.lots_before != adj.lots_after:
            gap = adj.lots_after - adj.lots_before
            self._notice(
                "alert",
                f"position gap of {self.instrument.lots_to_qty(gap):+} "
                f"{self.instrument.base_asset} adopted from the venue "
                f"({self._qty(adj.lots_before)} -> {self._qty(adj.lots_after)}): {gap_reason}",
                lots_before=adj.lots_before,
                lots_after=adj.lots_after,
                reason=gap_reason,
            )

    def adopt_order(self, update: OrderUpdate, now: int) -> None:
        """Reconciliation: an open venue order of ours. Tracked → the update is applied;
        unknown and still open → tracked in a non-quoting slot and cancelled by the next step
        (see the module docstring)."""
        if update.symbol != self.instrument.symbol:
            raise ParameterError(
                f"adopt_order: order {update.client_id} is for {update.symbol}, this strategy "
                f"trades {self.instrument.symbol}"
            )
        if self.orders.get(update.client_id) is not None:
            self._on_order_event(update, now)
            return
        if update.qty <= update.cum_qty or update.status.value not in ("NEW", "PARTIALLY_FILLED"):
            return  # nothing open to adopt
        level = ADOPTED_LEVEL
        while self.orders.slot_order((update.side, level)) is not None:
            level += 1
        self.orders.new_order(
            update.client_id,
            (update.side, level),
            update.side,
            update.price,
            update.qty,
            update.time_in_force,
            update.reduce_only,
            now,
        )
        self.orders.on_event(replace(update, fill=None))
        self._notice(
            "reconcile",
            f"adopted open order {update.client_id}; it will be cancelled",
            client_id=update.client_id,
            side=update.side.value,
            price=update.price,
            qty=update.qty,
        )

    # --- units in messages ----------------------------------------------------------------------
    def _qty(self, lots: int) -> str:
        """A size as the operator reads it (``0.004 BTC``): notices speak the screen's units."""
        return f"{self.instrument.lots_to_qty(lots)} {self.instrument.base_asset}"

    def _price(self, ticks: int) -> str:
        return self.instrument.price_str(ticks)

    # --- status ---------------------------------------------------------------------------------
    def status(self, now: int) -> StrategyStatus:
        """A frozen snapshot for the status screen and metrics."""
        view = self._view
        bid, ask = self.book.best_bid(), self.book.best_ask()
        quotes = []
        for order in self.orders.live_orders():
            # The displayed size at our price includes our own order (the venue shows it in the
            # book): what is ahead of us is the rest of it, at most.
            shown = self.book.size_at(order.side, order.price)
            ahead = max(0, shown - order.remaining) if shown > 0 else None
            quotes.append(
                QuoteStatus(
                    order.side,
                    order.slot[1],
                    order.price,
                    order.remaining,
                    order.client_id,
                    order.state,
                    now - order.created_ts,
                    ahead,
                )
            )
        params = self._params or self._intensity.params(self._t)
        age = None if self._last_book_update is None else now - self._last_book_update
        return StrategyStatus(
            ts=now,
            trading_state=self.risk.state,
            reason=view.reason if view is not None else "not evaluated yet",
            band=view.band if view is not None else _band(self),
            position_lots=self.ledger.position_lots,
            entry_price=self.ledger.entry_price,
            mid=self.book.mid(),
            best_bid=None if bid is None else bid[0],
            best_ask=None if ask is None else ask[0],
            book_synced=self.book.synced,
            book_age_ms=age,
            quotes=tuple(quotes),
            ledger=self.ledger.snapshot(),
            drawdown=self.risk.drawdown.drawdown,
            max_drawdown=self.config.limits.max_drawdown,
            sigma=self._sigma,
            a=params.a,
            k=params.k,
            intensity_source=params.source,
            sigma_source=self._sigma_source,
            safety_ticks=self.safety.ticks,
            quote_to_trade=view.quote_to_trade if view is not None else 0.0,
            cannot_quote=self._cannot_quote,
            last_fills=tuple(self._last_fills),
            alerts=tuple(self._alerts),
        )


def _band(mm: MarketMaker) -> InventoryBand:
    return band_for(mm.ledger.position_lots, mm.config.limits)


__all__ = [
    "FLATTEN_LEVEL",
    "MarketMaker",
    "Notice",
    "QuoteStatus",
    "StrategyStatus",
]
