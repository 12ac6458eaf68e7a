"""Extended's streams on the shared websocket server: paths, the book's ``seq``, the account.

Paths (Extended serves one stream per path under ``/stream.extended.exchange/v1``; the prefix
is optional here, so a client given the bare server URL finds the same paths):
``/orderbooks/<m>``, ``/publicTrades/<m>``, ``/funding/<m>``, ``/prices/mark/<m>`` and
``/account`` (``X-Api-Key`` header required: 401 otherwise). A market stream's path without
the market (``/orderbooks``, as the SDK asks with ``market_name=None``) streams every market,
as Extended's documentation says: here the sim's one market. Another market is a 404.

**Order book.** A new connection receives a SNAPSHOT of the whole public book first; every
public delta of the engine is then a DELTA whose sizes are **changes** of each level (as
Extended's are), numbered ``seq`` + 1 per message; a SNAPSHOT is published to every
subscriber once a market minute. ``seq`` counts the market's book messages (one counter for
all connections: a connection's first snapshot carries the current number and the next delta
follows it). Depth faults (skip, duplicate, reorder) apply to deltas, so a client sees a gap.

**Best bid and ask** (``?depth=1``, the SDK's ``subscribe_to_orderbooks(depth=1)``): Extended's
documentation says these "updates are always snapshots", pushed in real time. A new connection
receives the current top as a SNAPSHOT of one level a side; every book change that moves the
best bid or ask (its price or its size) publishes the next one. They are numbered by their
own ``seq`` (+ 1 per snapshot, one counter for all connections, as the full book's), which a
client needs not check: each message is the whole top. The depth faults do not touch them.
Any other ``depth`` than ``1`` is refused at the handshake (400, naming the values allowed).

**Account.** A new account connection receives the account first (BALANCE, POSITION, open
ORDERs, as Extended's does); then ORDER on every order change, TRADE on every fill, BALANCE
and POSITION on every account change.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from mmtrio.core.events import BookDelta, Fill, Level, OrderUpdate, Trade
from mmtrio.sim import requests
from mmtrio.sim.extended import render
from mmtrio.sim.hub import StreamConn
from mmtrio.sim.wsserve import WsRejected

if TYPE_CHECKING:
    from mmtrio.sim.extended.frontend import ExtendedFrontEnd

PREFIX = "/stream.extended.exchange/v1"
SNAPSHOT_EVERY_MS = 60_000
ALL_LEVELS = 10**6
CHANNELS = ("orderbooks", "publicTrades", "funding", "prices/mark")
TOP = "orderbooks-top"  # the topic of the best bid and ask (?depth=1)


def _reject(status: int, msg: str) -> WsRejected:
    return WsRejected(
        status, json.dumps({"status": "ERROR", "error": {"code": status, "message": msg}}).encode()
    )


class ExtendedStreams:
    """Renders the engine's market and account happenings; the websocket protocol."""

    def __init__(self, front: ExtendedFrontEnd) -> None:
        self.front = front
        self.venue = front.venue
        self.symbol = front.symbol
        bids, asks = self.venue.book.top(ALL_LEVELS)
        self._bids: dict[int, int] = dict(bids)  # the book as published (public sizes)
        self._asks: dict[int, int] = dict(asks)
        self.seq = 0
        self._stream_seq: dict[str, int] = {}
        self._next_snapshot: int | None = None
        self.top_seq = 0  # the best bid/ask snapshots' own numbering (?depth=1)
        self._top: tuple[Level | None, Level | None] = self._best()

    # --- rendering ------------------------------------------------------------------------
    def levels(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """The published book for ``GET …/orderbook`` ({qty, price} rows)."""
        inst = self.venue.instrument

        def rows(side: list[Level]) -> list[dict[str, str]]:
            return [{"qty": inst.qty_str(q), "price": inst.price_str(p)} for p, q in side]

        return rows(sorted(self._bids.items(), reverse=True)), rows(sorted(self._asks.items()))

    def _rows(self, levels: list[Level]) -> list[dict[str, str]]:
        inst = self.venue.instrument
        return [{"p": inst.price_str(p), "q": str(inst.lots_to_qty(q))} for p, q in levels]

    def _snapshot(self, seq: int, ts: int) -> dict[str, Any]:
        return {
            "type": "SNAPSHOT", "ts": self.venue.out_ts(ts), "seq": seq,
            "data": {"t": "SNAPSHOT", "m": self.symbol,
                     "b": self._rows(sorted(self._bids.items(), reverse=True)),
                     "a": self._rows(sorted(self._asks.items()))},
        }  # fmt: skip

    def _best(self) -> tuple[Level | None, Level | None]:
        """The published book's best bid and ask, (price, size) each."""
        bid = max(self._bids) if self._bids else None
        ask = min(self._asks) if self._asks else None
        return (
            None if bid is None else (bid, self._bids[bid]),
            None if ask is None else (ask, self._asks[ask]),
        )

    def _top_snapshot(self, seq: int, ts: int) -> dict[str, Any]:
        bid, ask = self._top
        return {
            "type": "SNAPSHOT", "ts": self.venue.out_ts(ts), "seq": seq,
            "data": {"t": "SNAPSHOT", "m": self.symbol,
                     "b": self._rows([bid] if bid else []),
                     "a": self._rows([ask] if ask else [])},
        }  # fmt: skip

    def _publish_top(self, ts: int) -> None:
        """The best bid and ask to ``?depth=1`` subscribers, when either moved. Only while
        someone listens: finding the top scans the published levels."""
        topic = f"{TOP}:{self.symbol}"
        if not self.venue.hub.market.get(topic):
            return
        top = self._best()
        if top != self._top:
            self._top = top
            self.top_seq += 1
            self.venue.hub.publish(topic, self._top_snapshot(self.top_seq, ts))

    def _next(self, channel: str) -> int:
        n = self._stream_seq.get(channel, 0) + 1
        self._stream_seq[channel] = n
        return n

    @staticmethod
    def _changes(book: dict[int, int], levels: tuple[Level, ...]) -> list[Level]:
        out: list[Level] = []
        for price, size in levels:
            change = size - book.get(price, 0)
            if change:
                out.append((price, change))
            if size:
                book[price] = size
            else:
                book.pop(price, None)
        return out

    def on_book(self, delta: BookDelta) -> None:
        bids = self._changes(self._bids, delta.bids)
        asks = self._changes(self._asks, delta.asks)
        hub, topic = self.venue.hub, f"orderbooks:{self.symbol}"
        if bids or asks:
            self.seq += 1
            hub.publish_book(topic, {
                "type": "DELTA", "ts": self.venue.out_ts(delta.ts), "seq": self.seq,
                "data": {"t": "DELTA", "m": self.symbol, "b": self._rows(bids),
                         "a": self._rows(asks)},
            })  # fmt: skip
            self._publish_top(delta.ts)
        if self._next_snapshot is None:
            self._next_snapshot = delta.ts + SNAPSHOT_EVERY_MS
        elif delta.ts >= self._next_snapshot:
            self._next_snapshot = delta.ts + SNAPSHOT_EVERY_MS
            self.seq += 1
            hub.publish(topic, self._snapshot(self.seq, delta.ts))

    def on_trade(self, trade: Trade) -> None:
        # ``ts`` is when the message leaves (the market clock now), ``T`` when the trade
        # printed: a recording's trades can arrive seconds after their print (a sweep's
        # prints at one ms, delivered over a second or more) while the book runs on, and a
        # message stamped with the print's time would read as a feed that late.
        inst, venue = self.venue.instrument, self.venue
        venue.hub.publish(f"publicTrades:{self.symbol}", {
            "ts": venue.out_ts(max(trade.ts, venue.market_ts)), "seq": self._next("trades"),
            "data": [{"m": self.symbol, "S": trade.aggressor.value, "tT": "TRADE",
                      "T": venue.out_ts(trade.ts), "p": inst.price_str(trade.price),
                      "q": str(inst.lots_to_qty(trade.qty)), "i": trade.trade_id}],
        })  # fmt: skip

    def on_mark(self) -> None:
        venue = self.venue
        ts = venue.out_ts()
        venue.hub.publish(f"prices/mark:{self.symbol}", {
            "type": "MP", "ts": ts, "seq": self._next("mark"), "sourceEventId": None,
            "data": {"m": self.symbol, "p": str(venue.mark_price()), "ts": ts},
        })  # fmt: skip

    def on_funding(self) -> None:
        venue = self.venue
        ts = venue.out_ts()
        venue.hub.publish(f"funding:{self.symbol}", {
            "ts": ts, "seq": self._next("funding"),
            "data": {"m": self.symbol, "T": ts, "f": str(venue.funding_rate)},
        })  # fmt: skip

    # --- account --------------------------------------------------------------------------
    def _account_msg(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"type": kind, "ts": self.venue.out_ts(), "seq": self._next("account"), "data": data}

    def on_order(self, update: OrderUpdate) -> None:
        venue = self.venue
        found = self.front.orders.find(update.client_id, update.order_id)
        if found is not None:
            order = render.order_json(venue, *found)
            venue.hub.publish_user(self._account_msg("ORDER", {"orders": [order]}))
        if update.fill is not None:
            self.on_fill(update.fill)

    def on_fill(self, fill: Fill) -> None:
        # the TRADE push is what a client books a fill from: the hub keeps it for user_replay
        trade = render.trade_json(self.venue, fill, stream=True)
        self.venue.hub.publish_user(self._account_msg("TRADE", {"trades": [trade]}), fill=True)

    def on_account(self) -> None:
        venue, lev = self.venue, self.front.leverage
        balance = render.balance_json(venue, lev)
        venue.hub.publish_user(self._account_msg("BALANCE", {"balance": balance}))
        positions = render.positions_json(venue, lev)
        venue.hub.publish_user(self._account_msg("POSITION", {"positions": positions}))

    def rejected(self, external: str) -> None:
        """An order the API accepted and the matching engine rejected (post-only would take)."""
        found = self.front.orders.find(external, None)
        if found is not None:
            order = render.order_json(self.venue, *found)
            self.venue.hub.publish_user(self._account_msg("ORDER", {"orders": [order]}))

    # --- websocket protocol ---------------------------------------------------------------
    def open(self, target: str) -> StreamConn:
        return self.open_request(target, [])

    def open_request(self, target: str, headers: list[tuple[bytes, bytes]]) -> StreamConn:
        path = urlsplit(target).path.rstrip("/")
        path = path.removeprefix(PREFIX)
        venue = self.venue
        conn = StreamConn.create(user=False, envelope=None, latency_s=venue.config.latency_s)
        if path == "/account":
            keys = [v.decode("latin-1") for k, v in headers if k.lower() == b"x-api-key"]
            if keys != [self.front.account.api_key]:
                raise _reject(401, "Unauthorized")
            conn.user = True
            return conn
        for channel in CHANNELS:
            if path == f"/{channel}" or path.startswith(f"/{channel}/"):
                market = path[len(channel) + 2 :] or self.symbol  # none: every market
                if market != self.symbol:
                    raise _reject(404, f"Market not found: {market}")
                topic = channel
                if channel == "orderbooks" and self._depth(target) == 1:
                    topic = TOP
                conn.names[f"{topic}:{market}"] = channel
                return conn
        raise _reject(404, f"unknown stream path {path!r}")

    @staticmethod
    def _depth(target: str) -> int | None:
        """``?depth``: absent (the full book) or 1 (best bid and ask); anything else refused."""
        values = parse_qs(urlsplit(target).query, keep_blank_values=True).get("depth")
        if values is None:
            return None
        if values != ["1"]:
            shown = ", ".join(repr(v) for v in values)
            raise _reject(400, f"depth must be 1 (best bid and ask) or absent (the full "
                               f"book), got {shown}")  # fmt: skip
        return 1

    def welcome(self, conn: StreamConn) -> None:
        """What a stream starts with, offered as the server registers the connection (after
        the handshake's answer, in the same step: :mod:`mmtrio.sim.wsserve`): the book's
        SNAPSHOT at the current ``seq`` (the next DELTA is ``seq`` + 1), the best bid and
        ask's (``?depth=1``) at its own current ``seq``, or the account's
        BALANCE, POSITION and open ORDERs (every later change follows them)."""
        venue = self.venue
        if conn.user:
            for kind, data in (
                ("BALANCE", {"balance": render.balance_json(venue, self.front.leverage)}),
                ("POSITION", {"positions": render.positions_json(venue, self.front.leverage)}),
                ("ORDER", {"orders": [render.order_json(venue, r)
                                      for r in requests.open_orders(venue)]}),
            ):  # fmt: skip
                conn.offer(json.dumps(self._account_msg(kind, data), separators=(",", ":")))
        if f"orderbooks:{self.symbol}" in conn.names:
            snap = self._snapshot(self.seq, venue.book.ts)
            conn.offer(json.dumps(snap, separators=(",", ":")))
        if f"{TOP}:{self.symbol}" in conn.names:
            # _top is kept current only while someone listens: read it afresh for a newcomer
            # (the next change is then compared with what this connection was shown)
            top = self._best()
            if top != self._top:
                self._top = top
                self.top_seq += 1
            snap = self._top_snapshot(self.top_seq, venue.book.ts)
            conn.offer(json.dumps(snap, separators=(",", ":")))

    async def on_message(self, conn: StreamConn, data: str | bytes) -> list[str]:
        return []  # Extended's streams take no client messages (pings are frames)
