"""The strategy side of a backtest: the live ``MarketMaker``, applied a burst at a time and
asked to decide only at decision points, the way the live trading loop runs it.

Bursts. Everything that reaches the strategy in the same millisecond (its own clock: feed
arrival time for market data, answer/update arrival time for the lossless lane, the due time
for a timer) is one burst: market events are applied first, then the lossless items in arrival
order, then (when it is due) a ``Timer``, and then at most one decision (``mm.decide``). That
is :mod:`mmtrio.runtime.trading`'s ``handle_batch`` with a zero-cost loop in virtual time.

Decision points. A burst ends in a decision when:

- an order event, venue answer or funding payment is in it (one of our orders changed);
- the strategy's timer is due (``next_deadline()``: requotes, mid samples, cancel deadlines,
  queries, the stale-book guard);
- a feature it reads changed since the last decision: the touch it sees (book synced, best
  bid and ask price and size), a mark price (funding rate), or whether the latest market
  message's feed latency is over the feed-latency guard's limit.

A burst that changes none of these (deeper book levels, trades that leave the touch) is applied
(the book, the volatility and intensity estimators see everything) but not decided on. Both
replay engines use this class, so they decide at the same points by construction.

Timer. ``next_deadline()`` is read after every burst and a deadline at or before the burst's
own time is moved to the next millisecond (a past deadline would otherwise be served forever).
Between two decisions that value can only move later (only a decision plans requotes, samples,
queries and cancel deadlines; a book update only pushes the stale-book deadline out), which is
what lets the compiled engine read it lazily (:meth:`timer_after`).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable

from mmtrio.backtest.quote_log import QuoteLog
from mmtrio.backtest.settings import Restriction
from mmtrio.core.client_ids import ClientIdGenerator, HexIdFormat
from mmtrio.core.commands import Command
from mmtrio.core.events import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    Event,
    OrderUpdate,
    PlaceRejected,
    Timer,
    Trade,
)
from mmtrio.core.notices import Notice
from mmtrio.core.strategy import MarketMaker
from mmtrio.core.strategy_config import StrategyConfig

_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")  # the backtest's venue has no id rule of its own
DRAIN_EVERY = 256  # notices are drained this often (the strategy's buffer is bounded)
MAX_ALERTS_KEPT = 50
Features = tuple[bool, int, int, int, int, bool]
_TIMED = (BookDelta, BookSnapshot, Trade, BookTicker)  # what the feed-latency guard observes
_ORDER_EVENTS = (OrderUpdate, PlaceRejected)  # what ends a quote segment (quote_log)


class StrategySide:
    """One ``MarketMaker`` driven burst by burst (see the module doc)."""

    def __init__(
        self, config: StrategyConfig, client_prefix: str, send: Callable[[Command, int], None]
    ) -> None:
        ids = ClientIdGenerator(HexIdFormat(client_prefix, sep="-", max_len=36, allowed=_ID), 0)
        self.mm = MarketMaker(config, ids)
        self._send = send
        self._max_latency = config.limits.max_feed_latency_ms
        self._latency_over = False
        self._decided: Features | None = None
        self.timer_at: int | None = None
        self.last_burst = -(2**62)
        self.decisions = 0
        self.applies = 0
        self.commands: Counter[str] = Counter()
        self.notices: Counter[str] = Counter()
        self.alerts: deque[Notice] = deque(maxlen=MAX_ALERTS_KEPT)
        self.restrictions: dict[tuple[str, str], Restriction] = {}
        self.quote_log = QuoteLog()

    # --- one burst ------------------------------------------------------------------------------
    def apply(self, ev: Event, now: int) -> None:
        """Apply a market or lossless event of the current burst."""
        self.mm.apply(ev, now)
        self.applies += 1
        if isinstance(ev, _ORDER_EVENTS):
            self.quote_log.event(ev, now)
        if isinstance(ev, _TIMED):
            self._latency_over = now - ev.ts > self._max_latency

    def apply_timed(self, ev: BookSnapshot | Trade, now: int) -> None:
        """:meth:`apply` for a book snapshot or a trade (nearly every event the compiled
        core hands over), without the type tests: neither ends a quote segment, both are
        timed by the feed-latency guard."""
        self.mm.apply(ev, now)
        self.applies += 1
        self._latency_over = now - ev.ts > self._max_latency

    def features(self) -> Features:
        """What the strategy reads from the market, as it sees it now."""
        book = self.mm.book
        if not book.synced:
            return (False, 0, 0, 0, 0, self._latency_over)
        bid, ask = book.best_bid(), book.best_ask()
        bp, bq = bid if bid is not None else (0, 0)
        ap, aq = ask if ask is not None else (0, 0)
        return (True, bp, bq, ap, aq, self._latency_over)

    @property
    def decided_features(self) -> Features | None:
        return self._decided

    def timer_due(self, now: int) -> bool:
        return self.timer_at is not None and self.timer_at <= now

    def finish(self, now: int, *, timer: bool, lossless: bool, mark: bool) -> None:
        """End the burst at ``now``: the timer if due, then one decision if one is called for."""
        if timer and self.timer_at is not None:
            self.mm.apply(Timer(self.timer_at), now)
        feats = self.features()
        if timer or lossless or mark or feats != self._decided:
            self._decided = feats
            cmds = self.mm.decide(now)
            self.decisions += 1
            for cmd in cmds:
                self.commands[type(cmd).__name__] += 1
                self.quote_log.command(cmd, now)
                self._send(cmd, now)
            if self.decisions % DRAIN_EVERY == 0:
                self.drain()
        self.end(now)

    def end(self, now: int) -> None:
        """After a burst (decided or not): the next timer."""
        self.last_burst = now
        d = self.mm.next_deadline()
        self.timer_at = None if d is None else max(d, now + 1)

    def timer_after(self) -> int | None:
        """The timer as the last burst left it (a lower bound between decisions)."""
        return self.timer_at

    def drain(self) -> None:
        for n in self.mm.drain_notices():
            self.notices[n.kind] += 1
            if n.kind == "alert":
                self.alerts.append(n)
            elif n.kind == "state_change":
                self._restricted(n)

    def _restricted(self, n: Notice) -> None:
        """Count a change to a restricting state by its cause (the reason before its first
        colon: its figures vary), keeping the first time and the first full reason."""
        to, reason = str(n.data.get("to_state", "")), str(n.data.get("reason", ""))
        self.quote_log.state(n.ts, to, reason)
        if to == "ACTIVE":
            return
        key = (to, reason.split(":", 1)[0])
        seen = self.restrictions.get(key)
        if seen is None:
            self.restrictions[key] = Restriction(to, reason, n.ts, 1)
        else:
            seen.count += 1

    def final_state(self) -> str:
        """The trading state of the last decision ("" before any)."""
        view = self.mm.view
        return "" if view is None else view.state.value
