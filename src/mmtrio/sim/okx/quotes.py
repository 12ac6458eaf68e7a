"""The simulated OKX venue's snapshot channels: ``books5``, ``bbo-tbt`` and ``tickers``.

OKX v5 public channels that carry whole states, not deltas, so a client needs no sequence
continuity (OKX docs, "Order book channel" and "Tickers channel"):

- ``books5``: the top 5 levels a side, ``{"asks", "bids", "instId", "ts", "seqId"}``, no
  ``action`` and no ``prevSeqId``; pushed when those five levels change (OKX: at most every
  100 ms; the sim pushes each change the replay makes);
- ``bbo-tbt``: the best level a side, ``{"asks", "bids", "ts", "seqId"}``, tick by tick:
  pushed whenever the best bid or ask (price or size) changes;
- ``tickers``: the ticker row of ``GET /api/v5/market/ticker`` (:mod:`.market`), pushed on
  a trade or a change of the best bid/ask, at most once per 100 ms of the market clock (a
  change held back by that limit goes out with the next market event after it).

``seqId`` is the public book's sequence (the recording's update id), the same numbering the
``books`` channel carries. A subscription gets the current state at once. These go out
through the plain fan-out, not the depth faults: a ``depth_skip``/``depth_reorder`` is aimed
at the ``books`` delta chain, which a snapshot channel must not consume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmtrio.sim.okx import words as w
from mmtrio.sim.okx.market import ticker_row

if TYPE_CHECKING:
    from mmtrio.core.instruments import Instrument
    from mmtrio.sim.tape import TradeTape
    from mmtrio.sim.venue import SimVenue

TICKER_EVERY_MS = 100
CHANNELS = ("books5", "bbo-tbt", "tickers")
Levels = tuple[list[list[str]], list[list[str]]]


class OkxQuotes:
    """Renders and publishes the snapshot channels (module docstring)."""

    def __init__(self, venue: SimVenue, inst: Instrument, tape: TradeTape) -> None:
        self.venue = venue
        self.inst = inst
        self.tape = tape
        self.topics = {c: f"{c}:{inst.symbol}" for c in CHANNELS}
        self._said: dict[str, Levels] = {}  # the levels last pushed, per channel
        self._ticker_at: int | None = None  # market ms of the last tickers push
        self._ticker_due = False

    def _levels(self, depth: int) -> Levels:
        bids, asks = self.venue.book.top(depth)
        inst = self.inst
        return (
            [w.level(inst, p, q) for p, q in bids],
            [w.level(inst, p, q) for p, q in asks],
        )

    def _push(self, channel: str, levels: Levels) -> dict[str, Any]:
        bids, asks = levels
        venue = self.venue
        data: dict[str, Any] = {"asks": asks, "bids": bids}
        if channel == "books5":
            data["instId"] = self.inst.symbol
        data["ts"] = w.s(venue.out_ts(venue.book.ts))
        data["seqId"] = venue.book.seq
        return {"arg": {"channel": channel, "instId": self.inst.symbol}, "data": [data]}

    def snapshot(self, channel: str) -> dict[str, Any]:
        """The channel's current state (a subscription's first push)."""
        if channel == "tickers":
            return self._ticker_push()
        return self._push(channel, self._levels(5 if channel == "books5" else 1))

    def _ticker_push(self) -> dict[str, Any]:
        row = ticker_row(self.venue, self.inst, self.tape)
        return {"arg": {"channel": "tickers", "instId": self.inst.symbol}, "data": [row]}

    # --- engine events --------------------------------------------------------------------
    def on_book(self) -> None:
        hub = self.venue.hub
        bbo_changed = False
        for channel, depth in (("books5", 5), ("bbo-tbt", 1)):
            wanted = hub.has_subscribers(self.topics[channel])
            if not wanted and not (depth == 1 and hub.has_subscribers(self.topics["tickers"])):
                self._said.pop(channel, None)  # nobody listens: the next one pushes afresh
                continue
            levels = self._levels(depth)
            if levels == self._said.get(channel):
                continue
            self._said[channel] = levels
            if depth == 1:
                bbo_changed = True
            if wanted:
                hub.publish(self.topics[channel], self._push(channel, levels))
        self._ticker(bbo_changed)

    def on_trade(self) -> None:
        self._ticker(True)

    def on_mark(self) -> None:
        self._ticker(False)  # once a market second: a held-back change goes out

    def _ticker(self, changed: bool) -> None:
        topic = self.topics["tickers"]
        hub = self.venue.hub
        if not hub.has_subscribers(topic):
            self._ticker_due = False
            return
        self._ticker_due = self._ticker_due or changed
        now = self.venue.market_ts
        if not self._ticker_due or (
            self._ticker_at is not None and now - self._ticker_at < TICKER_EVERY_MS
        ):
            return
        self._ticker_due = False
        self._ticker_at = now
        hub.publish(topic, self._ticker_push())
