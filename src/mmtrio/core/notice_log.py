"""The strategy's notice log: what it tells the journal, the log and the status screen.

Every notice the planner, the order emitter and the :class:`~mmtrio.core.strategy.MarketMaker`
raise goes through one :class:`NoticeLog`, stamped with the strategy clock (``t``: the
largest ``now`` seen, set by the MarketMaker before any part acts). The runtime drains it
after each step; the status screen reads the latest fills, the latest alerts and the current
"cannot quote" reason from it.

Two conditions repeat on every step while they last, so they are said once per distinct case
(an alert per step would be noise in the journal, and time on the hot path):

- a request held back because it would cross our own order (:meth:`NoticeLog.hold_back`):
  said again only after ``HOLD_BACK_QUIET_MS`` without it. Several quotes can be held back
  in one step (a level per side), so "the last one said" is not enough: two levels
  alternating said both on every step (QA on Extended, whose replace is cancel-then-new);
- the reason quoting is off (:meth:`NoticeLog.cannot_quote`), numbers ignored: "stale 5010
  ms" then "stale 5020 ms" is one condition.

:func:`quote_statuses` is the status screen's view of our live orders.

The buffer is bounded (``MAX_NOTICES``): notices nobody drains beyond it are dropped and
counted in ``dropped``, never an unbounded queue.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Final

from mmtrio.core.book import OrderBook
from mmtrio.core.notices import Notice, NoticeValue, QuoteStatus
from mmtrio.core.orders import OrderTracker

MAX_NOTICES: Final = 10_000  # undrained notices beyond this are dropped (counted)
LAST_FILLS: Final = 20
LAST_ALERTS: Final = 20
HOLD_BACK_QUIET_MS: Final = 1_000  # a held-back case unseen this long is said again
_HOLD_BACK_CASES: Final = 64  # cases remembered at most (older ones forgotten first)
_DIGITS = re.compile(r"\d+")


class NoticeLog:
    """A bounded buffer of notices, plus the latest fills/alerts and the cannot-quote reason."""

    def __init__(self) -> None:
        self.t = 0  # the strategy clock, set by the MarketMaker
        self._notices: deque[Notice] = deque(maxlen=MAX_NOTICES)
        self.dropped = 0
        self.last_fills: deque[Notice] = deque(maxlen=LAST_FILLS)
        self.alerts: deque[Notice] = deque(maxlen=LAST_ALERTS)
        self.cannot_quote_reason = "no book yet"  # '' while quoting
        self._held_back: dict[str, int] = {}  # case -> strategy time it was last seen

    def add(self, kind: str, message: str, **data: NoticeValue) -> Notice:
        """Record one notice (kinds: :data:`mmtrio.core.notices.NOTICE_KINDS`)."""
        if len(self._notices) == self._notices.maxlen:
            self.dropped += 1
        note = Notice(kind, self.t, message, data)
        self._notices.append(note)
        if kind == "alert":
            self.alerts.append(note)
        elif kind == "fill":
            self.last_fills.append(note)
        return note

    def drain(self) -> list[Notice]:
        """Every notice since the last drain, oldest first."""
        out = list(self._notices)
        self._notices.clear()
        return out

    def hold_back(self, message: str) -> None:
        """Alert that a request was held back, once per distinct case: the same case repeats
        every step until our other order moves; said again after ``HOLD_BACK_QUIET_MS``
        without it."""
        last = self._held_back.pop(message, None)
        self._held_back[message] = self.t  # re-inserted: the dict runs oldest-seen first
        if len(self._held_back) > _HOLD_BACK_CASES:
            del self._held_back[next(iter(self._held_back))]
        if last is None or self.t - last > HOLD_BACK_QUIET_MS:
            self.add("alert", message)

    def cannot_quote(self, reason: str) -> None:
        """Set why quoting is off (``''``: quoting); a notice when the condition changes."""
        if reason and _DIGITS.sub("#", reason) != _DIGITS.sub("#", self.cannot_quote_reason):
            self.add("cannot_quote", reason, reason=reason)
        self.cannot_quote_reason = reason


def quote_statuses(orders: OrderTracker, book: OrderBook, now: int) -> tuple[QuoteStatus, ...]:
    """Our live orders as the status screen shows them, with the queue ahead of each."""
    quotes = []
    for order in orders.live_orders():
        # The displayed size at our price includes our own order (the venue shows it in the
        # book): what is ahead of us is the rest of it, at most.
        shown = book.size_at(order.side, order.price)
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
    return tuple(quotes)
