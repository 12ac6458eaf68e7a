"""The backtest runner: a recording, the live ``MarketMaker`` and the venue's ``MatchingEngine``.

One deterministic event loop over virtual time (ms, in the exchange's clock):

- each market message reaches the matching engine at its exchange time ``E`` and the strategy
  at its feed arrival time (:mod:`mmtrio.backtest.feed`: recorded or constant feed latency);
- each command the strategy emits reaches the venue ``order_latency`` later (constant, or with
  seeded log-normal jitter: :class:`mmtrio.exchange.latency.LatencyModel`); the venue's answer
  (PlaceAccepted/Rejected, AmendAccepted/Rejected, CancelAccepted/Rejected) travels back with
  the same latency model, and our order updates (fills, cancels, expiries) with the user-stream
  latency. Requests keep FIFO order per direction, as on one connection;
- the strategy's ``next_deadline()`` becomes a ``Timer`` at that time;
- funding: when exchange time passes the next funding time announced by the mark-price stream
  (2023 recordings carry ``markPrice@1s``), the position held by the engine pays or receives
  ``position · mark · rate`` (Binance's formula), delivered as a ``FundingPayment``.

At equal times: requests reaching the venue and answers reaching the strategy (in the order
they were scheduled) come before a market message delivered to the strategy, then timers: a
venue fact that is "already there" is never overtaken by market data of the same ms.

What the backtest does not model (documented limits): venue rate limits and request
failures (no ``OutcomeUnknown``: the chaos harness and the simulated venue test those paths),
our own orders' impact on the recorded crowd beyond consumed liquidity (``core.matching``), and
bookTicker messages unless asked for (the strategy only uses them for staleness, and depth@0ms
diffs are more frequent).

The report records are the venue's truth: the engine's fills, mid samples of the engine's
market book every ``mid_sample_ms`` and at every fill, the funding settled, and the order
messages sent. They feed :func:`mmtrio.reporting.pnl.compute_report` unchanged.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal

from mmtrio.backtest.feed import FeedLatency, RecordingFeed, Source
from mmtrio.core.client_ids import ClientIdGenerator, HexIdFormat
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
    BookDelta,
    BookSnapshot,
    CancelAccepted,
    CancelRejected,
    Event,
    ExecType,
    Fill,
    FundingPayment,
    MarkPrice,
    OrderNotFound,
    OrderUpdate,
    PlaceAccepted,
    PlaceRejected,
    Timer,
    Trade,
)
from mmtrio.core.notices import Notice
from mmtrio.core.strategy import MarketMaker
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.errors import ParameterError
from mmtrio.exchange.latency import DelayQueue, LatencyModel
from mmtrio.exchange.matching import (
    FeeSchedule,
    MatchingEngine,
    MatchingReject,
    NewOrder,
    QueueModel,
)
from mmtrio.reporting.pnl import MidSample, OrderCounts, ReportInput

_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")  # the backtest's venue has no id rule of its own
DRAIN_EVERY_STEPS = 256  # notices are drained this often (the strategy's buffer is bounded)
TAIL_MS = 5_000  # after the last message: let in-flight answers and timers play out
MAX_ALERTS_KEPT = 50


@dataclass(frozen=True, slots=True)
class BacktestSettings:
    """How the venue and the network are simulated (see the module doc). Validated."""

    order_latency_ms: int = 5
    order_jitter_ms: float = 0.0
    user_latency_ms: int = 5
    feed_latency: FeedLatency = FeedLatency.RECORDED
    feed_base_ms: int = 0
    queue_model: QueueModel = QueueModel.PROBABILISTIC
    maker_fee_bps: Decimal = Decimal("2")
    taker_fee_bps: Decimal = Decimal("5")
    seed: int = 0
    mid_sample_ms: int = 100
    book_ticker: bool = False
    client_prefix: str = "bt"

    def __post_init__(self) -> None:
        for name in ("order_latency_ms", "user_latency_ms", "feed_base_ms", "seed"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < 0:
                raise ParameterError(f"backtest {name} must be an integer >= 0, got {val!r}")
        if isinstance(self.mid_sample_ms, bool) or self.mid_sample_ms < 1:
            raise ParameterError(f"backtest mid_sample_ms must be >= 1, got {self.mid_sample_ms}")
        for name in ("maker_fee_bps", "taker_fee_bps"):
            val = getattr(self, name)
            if not isinstance(val, Decimal) or not val.is_finite() or abs(val) > 100:
                raise ParameterError(f"backtest {name} must be a Decimal in [-100, 100] bps")

    @property
    def fees(self) -> FeeSchedule:
        return FeeSchedule(self.maker_fee_bps / 10_000, self.taker_fee_bps / 10_000)


@dataclass(slots=True)
class BacktestResult:
    """What a run produced: the report's plain records plus run statistics."""

    report_input: ReportInput
    market_messages: int  # recorded lines read
    events: int  # depth level updates + trades (hftbacktest's row count)
    strategy_steps: int
    commands: Counter[str]
    notices: Counter[str]
    alerts: list[Notice]
    strategy_position_lots: int
    venue_position_lots: int
    funding_payments: int
    first_ms: int
    last_ms: int
    rejects: Counter[str] = field(default_factory=Counter)
    book_gaps: int = 0  # continuity lost in the data (resynced from the next snapshot)


class _Run:
    """One backtest's state; ``run()`` is the event loop (kept flat: it is the hot path)."""

    def __init__(self, source: Source, config: StrategyConfig, settings: BacktestSettings) -> None:
        self.cfg = config
        self.s = settings
        inst = config.instrument
        self.inst = inst
        ids = ClientIdGenerator(
            HexIdFormat(settings.client_prefix, sep="-", max_len=36, allowed=_ID), 0
        )
        self.mm = MarketMaker(config, ids)
        self.engine = MatchingEngine(inst, settings.fees, settings.queue_model)
        self.feed = RecordingFeed(
            source, latency=settings.feed_latency, base_ms=settings.feed_base_ms
        )
        seed = settings.seed
        jit = settings.order_jitter_ms
        self.to_venue = LatencyModel(settings.order_latency_ms, 0, jitter_ms=jit, seed=seed)
        self.to_client = LatencyModel(
            settings.order_latency_ms, settings.user_latency_ms, jitter_ms=jit, seed=seed + 1
        )
        # Items: a Command travelling to the venue, or an Event travelling to the strategy.
        self.queue: DelayQueue[Command | Event] = DelayQueue()
        self.market: deque[tuple[int, Event]] = deque()
        self.timer_at: int | None = None
        self.last_timer = -(2**62)
        self.now = 0
        self.steps = 0
        self.commands: Counter[str] = Counter()
        self.notices: Counter[str] = Counter()
        self.alerts: deque[Notice] = deque(maxlen=MAX_ALERTS_KEPT)
        self.rejects: Counter[str] = Counter()
        self.fills: list[Fill] = []
        self.mids: list[MidSample] = []
        self.funding: list[FundingPayment] = []
        self.next_mid = 0
        self.mark: MarkPrice | None = None
        self.settled_funding_ts = -1

    # --- strategy side -------------------------------------------------------------------------
    def _step(self, event: Event, now: int) -> None:
        self.now = now
        mm = self.mm
        cmds = mm.step(event, now)
        self.steps += 1
        if cmds:
            q, arrive = self.queue, self.to_venue.order_arrival
            for cmd in cmds:
                self.commands[type(cmd).__name__] += 1
                q.schedule(arrive(now), cmd)
        d = mm.next_deadline()
        if d is not None and d <= self.last_timer:
            d = self.last_timer + 1  # a deadline already served: wake at the next ms at most
        self.timer_at = d
        if self.steps % DRAIN_EVERY_STEPS == 0:
            self._drain()

    def _drain(self) -> None:
        for n in self.mm.drain_notices():
            self.notices[n.kind] += 1
            if n.kind == "alert":
                self.alerts.append(n)

    # --- venue side -----------------------------------------------------------------------------
    def _venue(self, cmd: Command, t: int) -> None:
        eng = self.engine
        answer: Event | None = None
        updates: list[OrderUpdate] = []
        try:
            if isinstance(cmd, PlaceOrder):
                updates = eng.place(
                    NewOrder(
                        cmd.client_id,
                        cmd.side,
                        cmd.price,
                        cmd.qty,
                        cmd.time_in_force,
                        cmd.reduce_only,
                    ),
                    t,
                )
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
            self.queue.schedule(self.to_client.order_arrival(t), answer)
        if updates:
            self._user(updates, t)

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

    def _user(self, updates: list[OrderUpdate], t: int) -> None:
        at = self.to_client.feed_arrival(t)
        sched = self.queue.schedule
        for u in updates:
            if u.fill is not None:
                self._mid_sample(t)
                self.fills.append(u.fill)
            sched(at, u)

    def _mid_sample(self, t: int) -> None:
        eng = self.engine
        b, a = eng.best_bid(), eng.best_ask()
        if b is not None and a is not None and b[0] < a[0]:
            self.mids.append(MidSample(t, b[0], a[0]))

    def _funding(self, t: int) -> None:
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
        self.queue.schedule(self.to_client.feed_arrival(t), pay)

    # --- the loop -------------------------------------------------------------------------------
    def _advance(self, until: int) -> None:
        """Process everything due at or before ``until``, in time order."""
        q, market = self.queue, self.market
        while True:
            tq = q.next_due()
            tm = market[0][0] if market else None
            tt = self.timer_at
            t = until + 1
            if tq is not None and tq < t:
                t = tq
            if tm is not None and tm < t:
                t = tm
            if tt is not None and tt < t:
                t = tt
            if t > until:
                return
            if tq is not None and tq == t:
                for item in q.pop_due(t):
                    if isinstance(
                        item, PlaceOrder | AmendOrder | CancelOrder | CancelAll | QueryOrder
                    ):
                        self._venue(item, t)
                    else:
                        self._step(item, max(t, self.now))
            elif tm is not None and tm == t:
                self._step(market.popleft()[1], t)
            else:
                self.timer_at = None
                self.last_timer = t
                self._step(Timer(t), max(t, self.now))

    def run(self) -> BacktestResult:
        eng = self.engine
        market = self.market
        mid_every = self.s.mid_sample_ms
        first_ms: int | None = None
        e = 0
        for item in self.feed:
            e = item.exchange_ms
            if first_ms is None:
                first_ms = e
                self.next_mid = e
            self._advance(e)
            if e >= self.next_mid:
                self._mid_sample(e)
                self.next_mid = e - e % mid_every + mid_every
            ev = item.event
            if isinstance(ev, BookDelta):
                ups = eng.on_delta(ev)
            elif isinstance(ev, Trade):
                ups = eng.on_trade(ev)
            elif isinstance(ev, BookSnapshot):
                ups = eng.on_snapshot(ev)
            elif isinstance(ev, MarkPrice):
                self._funding(e)
                self.mark = ev
                ups = []
            else:  # BookTicker; BookInvalid (the engine keeps matching on its last book)
                ups = []
            if ups:
                self._user(ups, e)
            if self.mark is not None:
                self._funding(e)
            market.append((item.arrival_ms, ev))
        self._advance(max(e, self.now) + TAIL_MS)
        self._drain()
        start = first_ms if first_ms is not None else 0
        return BacktestResult(
            report_input=ReportInput(
                instrument=self.inst,
                fills=tuple(self.fills),
                mids=tuple(self.mids),
                funding=tuple(self.funding),
                orders=OrderCounts(
                    place=self.commands["PlaceOrder"],
                    amend=self.commands["AmendOrder"],
                    cancel=self.commands["CancelOrder"] + self.commands["CancelAll"],
                ),
                start_ms=start,
                end_ms=e,
            ),
            market_messages=self.feed.messages,
            events=self.feed.level_updates,
            strategy_steps=self.steps,
            commands=self.commands,
            notices=self.notices,
            alerts=list(self.alerts),
            strategy_position_lots=self.mm.ledger.position_lots,
            venue_position_lots=self.engine.position,
            funding_payments=len(self.funding),
            first_ms=start,
            last_ms=e,
            rejects=self.rejects,
            book_gaps=self.feed.gaps,
        )


def run_backtest(
    source: Source, config: StrategyConfig, settings: BacktestSettings | None = None
) -> BacktestResult:
    """Replay ``source`` (one continuous recording, as neutral events) through the strategy;
    deterministic per seed."""
    return _Run(source, config, settings or BacktestSettings()).run()
