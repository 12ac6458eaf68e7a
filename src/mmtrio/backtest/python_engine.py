"""The reference replay engine: neutral events, the Python matching engine, one loop.

Kept as the reference the compiled core (:mod:`mmtrio.backtest.compiled`) is checked against
(same fills and P&L to the lot on every shipped recording: ``tests/unit/test_fidelity.py``,
``benchmarks/fidelity.py``). It reads any source of ``(local_ns, event)`` pairs: a raw
recording through the venue's reader, or an event store.

One deterministic loop over virtual time (ms). At each time ``t``, in this order:

1. requests due at ``t`` reach the venue (:class:`~mmtrio.backtest.venue_side.VenueSide`);
2. market messages stamped ``t`` (exchange time ``E``) reach the matching engine; each is then
   on its way to the strategy, which receives it at its feed arrival time
   (:mod:`mmtrio.backtest.feed`: recorded or constant feed latency);
3. the strategy's burst at ``t`` (:mod:`mmtrio.backtest.decisions`): the market messages
   arriving at ``t``, then the answers and order updates arriving at ``t``, then its timer if
   due, then at most one decision.

So a venue fact that is "already there" is never overtaken by market data of the same ms, and
the venue applies its own market data before anyone can see it. After the last message, the
run goes on ``TAIL_MS`` so that in-flight answers and timers play out.

What the backtest does not model (documented limits): venue rate limits and request failures
(no ``OutcomeUnknown``: the chaos harness and the simulated venue test those paths), our own
orders' impact on the recorded crowd beyond consumed liquidity (:mod:`mmtrio.exchange.matching`),
and bookTicker messages unless asked for (the strategy only uses them for staleness, and the
depth diffs are more frequent).
"""

from __future__ import annotations

from collections import deque

from mmtrio.backtest.decisions import StrategySide
from mmtrio.backtest.feed import FeedItem, RecordingFeed, Source
from mmtrio.backtest.settings import BacktestResult, BacktestSettings
from mmtrio.backtest.venue_side import VenueSide
from mmtrio.core.events import BookDelta, BookSnapshot, Event, MarkPrice, Trade
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.exchange.matching import MatchingEngine
from mmtrio.reporting.pnl import OrderCounts, ReportInput

TAIL_MS = 5_000
_NEVER = 2**62


def run_python(
    source: Source, config: StrategyConfig, settings: BacktestSettings
) -> BacktestResult:
    """Replay ``source`` through the strategy on the Python engine (see the module doc)."""
    inst = config.instrument
    engine = MatchingEngine(inst, settings.fees, settings.queue_model)
    venue = VenueSide(inst, settings, engine)
    strat = StrategySide(config, settings.client_prefix, venue.send)
    feed = RecordingFeed(source, latency=settings.feed_latency, base_ms=settings.feed_base_ms)
    market: deque[tuple[int, Event]] = deque()
    mid_every = settings.mid_sample_ms
    it = iter(feed)
    pending: FeedItem | None = next(it, None)
    first: int | None = None
    last_e = last_arrival = 0
    next_mid = 0
    end = _NEVER
    requests, answers = venue.requests, venue.answers
    while True:
        te = pending.exchange_ms if pending is not None else _NEVER
        tv = market[0][0] if market else _NEVER
        tb = requests.next_due()
        td = answers.next_due()
        t = min(
            te,
            tv,
            _NEVER if tb is None else tb,
            _NEVER if td is None else td,
            _NEVER if strat.timer_at is None else strat.timer_at,
        )
        if pending is None and end == _NEVER:
            end = max(last_e, last_arrival) + TAIL_MS
        if t >= _NEVER or t > end:
            break
        if tb == t:
            for cmd in requests.pop_due(t):
                venue.request(cmd, t)
            continue
        if pending is not None and te == t:
            item = pending
            e = item.exchange_ms
            if first is None:
                first = next_mid = e
            if e >= next_mid:
                venue.mid_sample(e)
                next_mid = e - e % mid_every + mid_every
            ev = item.event
            if isinstance(ev, BookDelta):
                ups = engine.on_delta(ev)
            elif isinstance(ev, Trade):
                ups = engine.on_trade(ev)
            elif isinstance(ev, BookSnapshot):
                ups = engine.on_snapshot(ev)
            elif isinstance(ev, MarkPrice):
                venue.on_mark(ev, e)
                ups = []
            else:  # BookTicker; BookInvalid (the engine keeps matching on its last book)
                ups = []
            if ups:
                venue.user(ups, e)
            if venue.mark is not None:
                venue.settle_funding(e)
            market.append((item.arrival_ms, ev))
            last_e, last_arrival = e, item.arrival_ms
            pending = next(it, None)
            continue
        timer = strat.timer_due(t)
        mark = False
        while market and market[0][0] <= t:
            mev = market.popleft()[1]
            strat.apply(mev, t)
            mark = mark or isinstance(mev, MarkPrice)
        lossless = answers.pop_due(t)
        for lev in lossless:
            strat.apply(lev, t)
        strat.finish(t, timer=timer, lossless=bool(lossless), mark=mark)
    strat.drain()
    start = first if first is not None else 0
    return BacktestResult(
        report_input=ReportInput(
            instrument=inst,
            fills=tuple(venue.fills),
            mids=tuple(venue.mids),
            funding=tuple(venue.funding),
            orders=OrderCounts(
                place=strat.commands["PlaceOrder"],
                amend=strat.commands["AmendOrder"],
                cancel=strat.commands["CancelOrder"] + strat.commands["CancelAll"],
            ),
            start_ms=start,
            end_ms=last_e,
        ),
        market_messages=feed.messages,
        events=feed.level_updates,
        strategy_steps=strat.decisions,
        commands=strat.commands,
        notices=strat.notices,
        alerts=list(strat.alerts),
        restrictions=sorted(strat.restrictions.values(), key=lambda r: r.first_ts),
        final_state=strat.final_state(),
        timeline=strat.quote_log.timeline(last_e),
        strategy_position_lots=strat.mm.ledger.position_lots,
        venue_position_lots=engine.position,
        funding_payments=len(venue.funding),
        first_ms=start,
        last_ms=last_e,
        rejects=venue.rejects,
        book_gaps=feed.gaps,
        strategy_applies=strat.applies,
        engine="python",
    )
