"""The order emitter: from the desired quotes and the live orders to the commands to send.

Every request the strategy sends leaves through here. :meth:`OrderEmitter.reconcile` reads
the planner's desired quotes against the orders holding the quoting slots
(:func:`mmtrio.core.slots.reconcile` decides keep/amend/cancel/place/wait per slot) and
emits them; :meth:`OrderEmitter.halt` pulls everything when risk says HALTED (and flattens
when asked to); the timed work (expired cancels, queries for unknown outcomes) is here too.

Rules (each what a careful desk does):

- Every place/amend passes ``risk.check_order``/``check_amend`` with the tracker's
  worst-case exposure, and is registered in the tracker *before* the next check in the same
  step, so two orders of one step can never jointly breach a limit.
- A new or amended quote must not cross any live order of ours on the other side (the older
  price of an amend in flight counts too): such a request is held back this step.
- HALTED cancels every live order once (``CancelAll`` plus the per-order pending-cancel
  state, so the slots stay blocked until each cancel is confirmed or times out); orders
  acknowledged after that are cancelled one by one. A flatten sends reduce-only IOC orders,
  one at a time and none while a quote on the same side may still be live.
- Unknown outcomes are queried ``query_delay_ms`` after they became unknown (from then on a
  late copy of the request can no longer land, so the answer is final), and re-queried
  every ``query_delay_ms`` until a venue fact resolves them (a lost query answer must not
  leave an order unknown forever). A query the venue failed (5xx, timeout: answered
  ``OutcomeUnknown(operation="query")``) is past that point already, so it is retried
  sooner: ``QUERY_RETRY_MS``, doubling with each failure in a row, up to
  ``query_delay_ms``. (QA: after a burst of 500s, one failed query held an unknown quote,
  and the other side's quotes it would cross, for another full 10 s.) A cancel unconfirmed
  by its deadline frees its slot (the tracker does it) and its order is queried the same way.
- Adopted venue orders (slot levels from ``ADOPTED_LEVEL``) and orphans are cancelled.
- The venue's capabilities reach the emitter through the config: ``use_amend`` is off for a
  venue that cannot amend (the runtime decides it from the gateway's capabilities).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Final

from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    PlaceOrder,
    QueryOrder,
)
from mmtrio.core.events import OrderUpdate, Side, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.core.ledger import Ledger
from mmtrio.core.notice_log import NoticeLog
from mmtrio.core.orders import Order, OrderState, OrderTracker, Slot
from mmtrio.core.quoting import Quote
from mmtrio.core.reject_policy import SlotBackoff
from mmtrio.core.rejects import RejectKind
from mmtrio.core.risk import RiskManager, RiskView
from mmtrio.core.slots import ActionKind, Tolerances, reconcile
from mmtrio.core.strategy_config import ADOPTED_LEVEL, StrategyConfig

FLATTEN_LEVEL: Final = -1  # slot level of reduce-only flatten orders (never a quoting slot)
QUERY_RETRY_MS: Final = 1_000  # a failed query's first retry (module docstring)
CANCELLABLE: Final = frozenset(
    {OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.PENDING_AMEND}
)
_CANCELLABLE: Final = tuple(CANCELLABLE)  # for the hot tests (see order_states.TERMINAL)


class OrderEmitter:
    """Commands from desired quotes; the only place a request is built."""

    def __init__(  # noqa: PLR0917 - the parts it reads
        self,
        config: StrategyConfig,
        orders: OrderTracker,
        ledger: Ledger,
        risk: RiskManager,
        ids: ClientIdGenerator,
        log: NoticeLog,
    ) -> None:
        self.config = config
        self.orders = orders
        self.ledger = ledger
        self.risk = risk
        self._ids = ids
        self._log = log
        self.mark_price: Decimal | None = None  # the venue mark, for the notional checks
        self.last_action: dict[Slot, int] = {}
        self.requote_at: int | None = None
        self.queries: dict[str, int] = {}  # client id -> when to (re)query
        self._query_failures: dict[str, int] = {}  # client id -> failed queries in a row
        self.backoff = SlotBackoff()  # slots refused by the venue wait (core/reject_policy)
        self._halt_handled = False
        # When the latest CancelAll left: an order older than it that ends CANCELED was
        # cancelled at our request, not by the venue (core/order_feedback.py says which).
        self.cancel_all_ts: int | None = None
        self.refused = 0  # requests held back or refused by risk (core/plan_skip.py)
        self._last_tolerances: tuple[StrategyConfig, Tolerances] | None = None

    @property
    def instrument(self) -> Instrument:
        return self.config.instrument

    def swap(self, config: StrategyConfig, risk: RiskManager) -> None:
        """Take a reloaded config and its risk manager; cannot fail."""
        self.config, self.risk = config, risk

    # --- timed work --------------------------------------------------------------------------
    def expire_cancels(self, now: int) -> None:
        for cid in self.orders.expire_cancels(now):
            self.queries.setdefault(cid, now + self.config.query_delay_ms)
            self._log.add(
                "alert", f"cancel of {cid} unconfirmed by its deadline: slot freed", client_id=cid
            )

    def on_outcome_unknown(self, client_id: str, now: int, operation: str = "") -> None:
        """Schedule the query of an unknown outcome (module docstring: a failed query's
        retry comes sooner, backing off while the venue keeps failing)."""
        delay = self.config.query_delay_ms
        if operation == "query":
            failures = self._query_failures.get(client_id, 0) + 1
            self._query_failures[client_id] = failures
            delay = min(delay, QUERY_RETRY_MS << min(failures - 1, 16))
        else:
            self._query_failures.pop(client_id, None)
        self.queries[client_id] = now + delay

    def queries_due(self, now: int, out: list[Command]) -> None:
        if not self.queries and not self.orders.has_unknown():
            return  # nothing to query, nothing to start querying (the loops below do nothing)
        for order in self.orders.live_orders():
            if order.state is OrderState.UNKNOWN and order.client_id not in self.queries:
                self.queries[order.client_id] = now + self.config.query_delay_ms
        for cid, due in list(self.queries.items()):
            tracked = self.orders.get(cid)
            if tracked is None or tracked.state is not OrderState.UNKNOWN:
                del self.queries[cid]
                self._query_failures.pop(cid, None)
            elif due <= now:
                out.append(QueryOrder(cid, self.instrument.symbol))
                self.queries[cid] = now + self.config.query_delay_ms
                self._log.add("query", f"querying {cid} ({tracked.reason})", client_id=cid)

    def next_deadline(self) -> int | None:
        """The earliest time the emitter needs a step at (queries, the next requote)."""
        queries = self.queries
        earliest = min(queries.values()) if queries else None
        at = self.requote_at
        if at is not None and (earliest is None or at < earliest):
            earliest = at
        return earliest

    # --- halted -------------------------------------------------------------------------------
    def halt(
        self,
        view: RiskView,
        now: int,
        out: list[Command],
        flatten_price: Callable[[Side], int | None],
    ) -> None:
        """Pull every quote (once by CancelAll, then one by one); flatten when asked to."""
        symbol = self.instrument.symbol
        deadline = now + self.config.cancel_deadline_ms
        live = [o for o in self.orders.live_orders() if o.slot[1] != FLATTEN_LEVEL]
        if not self._halt_handled and live:
            # Only when something of ours may rest: a CancelAll with nothing to cancel (e.g.
            # at start-up, HALTED until the first book) would be noise in the journal.
            self._halt_handled = True
            out.append(CancelAll(symbol, view.reason))
            self.cancel_all_ts = now
            for order in self.orders.live_orders():
                if order.state in _CANCELLABLE and order.slot[1] != FLATTEN_LEVEL:
                    self.orders.request_cancel(order.client_id, now, deadline)
            self._log.add(
                "alert", f"halted: cancelling all orders ({view.reason})", reason=view.reason
            )
        else:
            # Orders acknowledged (or resolved open) after the CancelAll: cancel them one by one.
            for order in self.orders.live_orders():
                if order.state in _CANCELLABLE and order.slot[1] != FLATTEN_LEVEL:
                    self.cancel(order, now, out, "halted")
        self._log.cannot_quote(f"halted: {view.reason}")
        self.requote_at = None
        if view.flatten:
            self._flatten(now, out, flatten_price)

    def _flatten(
        self, now: int, out: list[Command], flatten_price: Callable[[Side], int | None]
    ) -> None:
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
        last = self.last_action.get(slot)
        if last is not None and now < last + self.config.min_requote_interval_ms:
            self.requote_at = last + self.config.min_requote_interval_ms
            return
        until = self.backoff.until(slot)
        if until is not None and now < until:
            self.requote_at = until  # a refused flatten waits out its back-off
            return
        price = flatten_price(side)
        if price is None:
            self._log.add("alert", "cannot flatten: no usable book", position=pos)
            return
        qty = min(abs(pos), self.instrument.max_qty)
        self.place(slot, side, price, qty, now, out, tif=TimeInForce.IOC, reduce_only=True)

    # --- desired vs live ---------------------------------------------------------------------
    def _held(self) -> tuple[dict[Slot, Order], list[Order]]:
        """Orders in quoting slots, and live orders to cancel (orphans, strays)."""
        held: dict[Slot, Order] = {}
        levels = self.config.quote.levels
        holders, strays = self.orders.slot_holders()
        for order in holders:
            level = order.slot[1]
            if 0 <= level < levels:
                held[order.slot] = order
            elif level != FLATTEN_LEVEL:
                strays.append(order)
        return held, strays

    def _tolerances(self) -> Tolerances:
        """The config's reconciliation tolerances, built once per config."""
        cfg = self.config
        last = self._last_tolerances
        if last is None or last[0] is not cfg:
            tol = Tolerances(
                cfg.reprice_tolerance_ticks,
                cfg.size_tolerance_lots,
                cfg.min_requote_interval_ms,
                cfg.use_amend,
            )
            last = self._last_tolerances = (cfg, tol)
        return last[1]

    def reconcile(self, desired: dict[Slot, Quote], now: int, out: list[Command]) -> None:
        """Emit what takes the live orders to ``desired`` (paced; strays cancelled)."""
        self._halt_handled = False
        held, strays = self._held()
        for order in strays:
            if order.state in _CANCELLABLE:
                self.cancel(order, now, out, "orphan")
        tol = self._tolerances()
        self.requote_at = None
        paced = self.backoff.paced(self.last_action, self.config.min_requote_interval_ms)
        for action in reconcile(desired, held, now=now, last_action=paced, tol=tol, keeps=False):
            if action.kind is ActionKind.CANCEL and action.order is not None:
                self.cancel(action.order, now, out, action.reason)
            elif action.kind is ActionKind.AMEND and action.order and action.quote:
                self._amend(action.order, action.quote, now, out)
            elif action.kind is ActionKind.PLACE and action.quote is not None:
                q = action.quote
                self.place(action.slot, q.side, q.price_ticks, q.qty_lots, now, out)
            elif (
                action.kind is ActionKind.WAIT
                and action.until is not None
                and (self.requote_at is None or action.until < self.requote_at)
            ):
                self.requote_at = action.until

    # --- requests ----------------------------------------------------------------------------
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

    def place(  # noqa: PLR0917 - one request's fields
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
            self.refused += 1
            self._log.hold_back(
                f"{side.value} at {self._price(price)} held back: would cross our own order"
            )
            return
        decision = self.risk.check_order(
            now,
            side=side,
            price_ticks=price,
            qty_lots=qty,
            reduce_only=reduce_only,
            position_lots=self.ledger.position_lots,
            exposure=self.orders.worst_case_exposure(),
            mark_price=self.mark_price,
        )
        if not decision.allowed:
            self.refused += 1
            self._log.add(
                "reject",
                (
                    f"local risk refused {side.value} {self._qty(qty)} @ {self._price(price)}: "
                    f"{decision.reason}"
                ),
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
        self.last_action[slot] = now
        out.append(PlaceOrder(cid, self.instrument.symbol, side, price, qty, tif, reduce_only))
        self._log.add(
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
            self.refused += 1
            self._log.hold_back(
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
            mark_price=self.mark_price,
        )
        if not decision.allowed:
            self.refused += 1
            self._log.add(
                "reject",
                f"local risk refused amend of {order.client_id}: {decision.reason}",
                client_id=order.client_id,
                reject_kind=RejectKind.LOCAL.value,
                code="",
                reason=decision.reason,
            )
            # The order is no longer what we want and may not be changed: pull it.
            self.cancel(order, now, out, "amend refused by risk")
            return
        total = order.filled + q.qty_lots
        self.orders.request_amend(order.client_id, q.price_ticks, total, now)
        self.risk.on_order_sent(now)
        self.last_action[order.slot] = now
        out.append(
            AmendOrder(order.client_id, self.instrument.symbol, order.side, q.price_ticks, total)
        )
        self._log.add(
            "quote",
            f"amend {order.client_id} to {self._qty(q.qty_lots)} @ {self._price(q.price_ticks)}",
            client_id=order.client_id,
            side=order.side.value,
            level=order.slot[1],
            price=q.price_ticks,
            qty=total,
        )

    def cancel(self, order: Order, now: int, out: list[Command], reason: str) -> None:
        if order.state not in _CANCELLABLE:
            return
        self.orders.request_cancel(order.client_id, now, now + self.config.cancel_deadline_ms)
        self.last_action[order.slot] = now
        out.append(CancelOrder(order.client_id, self.instrument.symbol))
        self._log.add(
            "cancel",
            f"cancel {order.client_id} ({reason})",
            client_id=order.client_id,
            reason=reason,
        )

    # --- reconciliation -----------------------------------------------------------------------
    def adopt(self, update: OrderUpdate, now: int) -> None:
        """An open venue order of ours the tracker does not know: tracked in a non-quoting
        slot (from ``ADOPTED_LEVEL``), so the next step cancels it (its price was chosen by
        an earlier process under other parameters; a fresh quote replaces it)."""
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
        self._log.add(
            "reconcile",
            f"adopted open order {update.client_id}; it will be cancelled",
            client_id=update.client_id,
            side=update.side.value,
            price=update.price,
            qty=update.qty,
        )

    # --- units in messages --------------------------------------------------------------------
    def _qty(self, lots: int) -> str:
        """A size as the operator reads it (``0.004 BTC``): notices speak the screen's units."""
        return f"{self.instrument.lots_to_base(lots)} {self.instrument.base_asset}"

    def _price(self, ticks: int) -> str:
        return self.instrument.price_str(ticks)
