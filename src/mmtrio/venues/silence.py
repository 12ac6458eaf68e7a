"""The market-stream silence watchdog: a market stream that stays connected but delivers no
market message for ``limit_s`` is replaced, as a dropped connection is.

Why: ping/pong (:mod:`mmtrio.venues.wsconn`) proves the link carries frames, not that the
venue still sends on it. A venue's stream can stall on one connection while its pings are
still answered (a known failure of real exchanges, and the simulated venue's ``ws_stall``
fault); the stale-book guard (``[risk] stale_book_ms``) then pulls the quotes, safely, but
nothing reconnected the stream, so the bot waited without quotes, the stream shown as
connected, for as long as the venue stayed mute.

What counts as heard: a message that carries market data (a book, a trade, a mark price),
as each venue's market stream says by calling :meth:`SilenceWatch.heard`. A pong, a
subscription answer or an error is not market data: a stream that only answers pings is
silent. Only market streams are watched: a quiet user stream or order socket is normal (no
order, no fill), and their liveness stays the ping's.

How: the connection's session runs inside a cancel scope whose deadline is ``limit_s`` after
the last market message (or after the connection opened). Each market message moves the
deadline (once per distinct clock reading: a burst of messages moves it once); no task wakes
while messages flow, so a healthy stream's scheduling is untouched (the deterministic
simulation's traces do not change). When the deadline passes, the session is cancelled and
the connection ends like any dropped one: reported down (the book is invalidated), then
reconnected and resubscribed, the book rebuilt from a fresh snapshot the venue's way.

The limit (``[venue] market_silence_s``, :data:`DEFAULT_MARKET_SILENCE_S`): 10 s, five times
the default stale-book guard (2 s). A book silent that long is already unquoted, so a
reconnect costs nothing in quoting; and every venue's market stream pushes far more often on
a live perpetual (Binance's mark price every second, Hyperliquid's ``l2Book`` every block,
OKX's and Extended's books on each change, Extended's whole book once a minute and its mark
every second). Extended's trade stream, on a connection of its own, is not watched: it pushes
only as often as the market trades, and a quiet tape is normal. A market whose book or mark is
quiet for longer in normal trading should raise it; 0 turns the watchdog off.
"""

from __future__ import annotations

import math

import trio

DEFAULT_MARKET_SILENCE_S = 10.0
"""The default of ``[venue] market_silence_s`` (the config's default says the same)."""


class SilenceWatch:
    """The silence deadline of one stream's connections (``limit_s`` None or 0: off)."""

    def __init__(self, limit_s: float | None) -> None:
        if limit_s is not None and (math.isnan(limit_s) or limit_s < 0):
            raise ValueError(f"a silence limit is a non-negative number of seconds: {limit_s}")
        self.limit_s = limit_s or None
        self._scope: trio.CancelScope | None = None
        self.last_heard = 0.0  # trio time of the last market message (or of the connect)
        self.silences = 0  # connections ended for silence

    def scope(self) -> trio.CancelScope:
        """The cancel scope a connection's session runs in: its deadline is the silence
        limit from now, moved on by :meth:`heard` (no deadline when the watch is off)."""
        self.last_heard = trio.current_time()
        deadline = math.inf if self.limit_s is None else self.last_heard + self.limit_s
        self._scope = trio.CancelScope(deadline=deadline)
        return self._scope

    def heard(self) -> None:
        """A market message arrived: the silence deadline starts again from now."""
        scope = self._scope
        if scope is None or self.limit_s is None:
            return
        now = trio.current_time()
        if now != self.last_heard:
            self.last_heard = now
            scope.deadline = now + self.limit_s

    def fired(self, scope: trio.CancelScope) -> float | None:
        """How long the stream had been silent, if ``scope`` (the one :meth:`scope` gave)
        ended the session for silence; None otherwise. Counted in :attr:`silences`."""
        if self._scope is scope:
            self._scope = None
        if not scope.cancelled_caught:
            return None
        self.silences += 1
        return trio.current_time() - self.last_heard
