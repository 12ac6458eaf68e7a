"""The venue side of a backtest, shared by both replay engines: requests in, answers and
order updates out, the report's records (fills, mid samples, funding) kept as the venue's truth.

A request reaches the venue ``order_latency`` after it was sent (constant, or with seeded
log-normal jitter: :class:`mmtrio.exchange.latency.LatencyModel`); the venue's answer
(PlaceAccepted/Rejected, AmendAccepted/Rejected, CancelAccepted/Rejected) travels back with the
same latency model, our order updates (fills, cancels, expiries) with the user-stream latency.
Requests keep FIFO order per direction, as on one connection.

Funding: when exchange time passes the next funding time announced by the mark-price stream,
the position held by the venue pays or receives ``position · mark · rate`` (Binance's formula),
delivered as a ``FundingPayment``.

``engine`` is anything with the :class:`~mmtrio.exchange.matching.MatchingEngine` order
interface (place, amend, cancel, cancel_all, get, best_bid, best_ask, position): the Python
engine itself, or the compiled core's adapter.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from mmtrio.backtest.settings import BacktestSettings
from mmtrio.core.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    PlaceOrder,
    QueryOrder,
)
from mmtrio.core.events import (
    AmendAccepted,
    AmendRejected,
    CancelAccepted,
    CancelRejected,
    Event,
    ExecType,
    Fill,
    FundingPayment,
    Level,
    MarkPrice,
    OrderNotFound,
    OrderUpdate,
    PlaceAccepted,
    PlaceRejected,
)
from mmtrio.core.instruments import Instrument
from mmtrio.exchange.latency import DelayQueue, LatencyModel
from mmtrio.exchange.matching import MatchingReject, NewOrder, OrderView
from mmtrio.reporting.pnl import MidSample


class OrderEngine(Protocol):
    @property
    def position(self) -> int: ...

    def place(self, order: NewOrder, ts: int) -> list[OrderUpdate]: ...
    def amend(self, client_id: str, price: int, qty: int, ts: int) -> list[OrderUpdate]: ...
    def cancel(self, client_id: str, ts: int) -> list[OrderUpdate]: ...
    def cancel_all(self, ts: int) -> list[OrderUpdate]: ...
    def get(self, client_id: str) -> OrderView | None: ...
    def best_bid(self) -> Level | None: ...
    def best_ask(self) -> Level | None: ...


class VenueSide:
    """Requests, answers, updates and the venue's records (see the module doc)."""

    def __init__(self, instrument: Instrument, settings: BacktestSettings, engine: OrderEngine):
        self.inst = instrument
        self.engine = engine
        jit, seed = settings.order_jitter_ms, settings.seed
        self.to_venue = LatencyModel(settings.order_latency_ms, 0, jitter_ms=jit, seed=seed)
        self.to_client = LatencyModel(
            settings.order_latency_ms, settings.user_latency_ms, jitter_ms=jit, seed=seed + 1
        )
        self.requests: DelayQueue[Command] = DelayQueue()
        self.answers: DelayQueue[Event] = DelayQueue()
        self.rejects: Counter[str] = Counter()
        self.fills: list[Fill] = []
        self.mids: list[MidSample] = []
        self.funding: list[FundingPayment] = []
        self.mark: MarkPrice | None = None
        self.settled_funding_ts = -1

    def send(self, cmd: Command, now: int) -> None:
        """The strategy sent ``cmd`` at ``now``."""
        self.requests.schedule(self.to_venue.order_arrival(now), cmd)

    def request(self, cmd: Command, t: int) -> None:
        """``cmd`` reaches the venue at ``t``."""
        eng = self.engine
        answer: Event | None = None
        updates: list[OrderUpdate] = []
        try:
            if isinstance(cmd, PlaceOrder):
                order = NewOrder(
                    cmd.client_id, cmd.side, cmd.price, cmd.qty, cmd.time_in_force, cmd.reduce_only
                )
                updates = eng.place(order, t)
                answer = PlaceAccepted(cmd.client_id, updates[0].order_id, t)
            elif isinstance(cmd, AmendOrder):
                updates = eng.amend(cmd.client_id, cmd.price, cmd.qty, t)
                # The modify call returns 200 even when the amendment closed the order
                # (qty <= executed, or a post-only that would take): the update says so.
                answer = AmendAccepted(cmd.client_id, cmd.price, cmd.qty, t)
            elif isinstance(cmd, CancelOrder):
                updates = eng.cancel(cmd.client_id, t)
                answer = CancelAccepted(cmd.client_id, t)
            elif isinstance(cmd, CancelAll):
                updates = eng.cancel_all(t)
            elif isinstance(cmd, QueryOrder):
                answer = self._query(cmd.client_id, t)
        except MatchingReject as rej:
            code = rej.refusal.value
            self.rejects[code] += 1
            kind = rej.refusal.kind
            if isinstance(cmd, PlaceOrder):
                answer = PlaceRejected(cmd.client_id, kind, code, rej.msg, t)
            elif isinstance(cmd, AmendOrder):
                answer = AmendRejected(cmd.client_id, kind, code, rej.msg, t)
            elif isinstance(cmd, CancelOrder):
                answer = CancelRejected(cmd.client_id, kind, code, rej.msg, t)
        if answer is not None:
            self.answers.schedule(self.to_client.order_arrival(t), answer)
        if updates:
            self.user(updates, t)

    def _query(self, client_id: str, t: int) -> Event:
        view = self.engine.get(client_id)
        if view is None:
            return OrderNotFound(client_id, t)
        return OrderUpdate(
            symbol=self.inst.symbol,
            client_id=view.client_id,
            order_id=view.order_id,
            side=view.side,
            # A query result is a state, not an execution (no fill rides on it).
            exec_type=ExecType.NEW,
            status=view.status,
            price=view.price,
            qty=view.qty,
            cum_qty=view.cum_qty,
            time_in_force=view.time_in_force,
            reduce_only=view.reduce_only,
            ts=t,
        )

    def user(self, updates: list[OrderUpdate], t: int) -> None:
        """Order updates the venue produced at ``t``, on their way to the strategy."""
        at = self.to_client.feed_arrival(t)
        sched = self.answers.schedule
        for u in updates:
            if u.fill is not None:
                self.mid_sample(t)
                self.fills.append(u.fill)
            sched(at, u)

    def mid_sample(self, t: int) -> None:
        b, a = self.engine.best_bid(), self.engine.best_ask()
        if b is not None and a is not None and b[0] < a[0]:
            self.mids.append(MidSample(t, b[0], a[0]))

    def funding_due(self) -> int | None:
        """Exchange time at which funding settles next (None: nothing announced)."""
        mark = self.mark
        if mark is None or mark.next_funding_ts <= self.settled_funding_ts:
            return None
        return mark.next_funding_ts

    def settle_funding(self, t: int) -> None:
        mark = self.mark
        if (
            mark is None
            or t < mark.next_funding_ts
            or mark.next_funding_ts <= self.settled_funding_ts
        ):
            return
        self.settled_funding_ts = mark.next_funding_ts
        qty = self.inst.lots_to_base(self.engine.position)
        amount = -(qty * mark.mark_price * mark.funding_rate)
        pay = FundingPayment(self.inst.symbol, amount, mark.next_funding_ts)
        self.funding.append(pay)
        self.answers.schedule(self.to_client.feed_arrival(t), pay)

    def on_mark(self, mark: MarkPrice, t: int) -> None:
        """A mark-price message reached the venue at ``t``."""
        self.settle_funding(t)
        self.mark = mark
