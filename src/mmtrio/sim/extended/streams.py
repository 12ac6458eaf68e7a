"""Extended's streams on the shared websocket server: paths, the book's ``seq``, the account.

Paths (Extended serves one stream per path under ``/stream.extended.exchange/v1``; the prefix
is optional here, so a client given the bare server URL finds the same paths):
``/orderbooks/<m>``, ``/publicTrades/<m>``, ``/funding/<m>``, ``/prices/mark/<m>`` and
``/account`` (``X-Api-Key`` header required: 401 otherwise).

**Order book.** A new connection receives a SNAPSHOT of the whole public book first; every
public delta of the engine is then a DELTA whose sizes are **changes** of each level (as
Extended's are), numbered ``seq`` + 1 per message; a SNAPSHOT is published to every
subscriber once a market minute. ``seq`` counts the market's book messages (one counter for
all connections: a connection's first snapshot carries the current number and the next delta
follows it). Depth faults (skip, duplicate, reorder) apply to deltas, so a client sees a gap.

**Account.** A new account connection receives the account first (BALANCE, POSITION, open
ORDERs, as Extended's does); then ORDER on every order change, TRADE on every fill, BALANCE
and POSITION on every account change.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
        if self._next_snapshot is None:
            self._next_snapshot = delta.ts + SNAPSHOT_EVERY_MS
        elif delta.ts >= self._next_snapshot:
            self._next_snapshot = delta.ts + SNAPSHOT_EVERY_MS
            self.seq += 1
            hub.publish(topic, self._snapshot(self.seq, delta.ts))

    def on_trade(self, trade: Trade) -> None:
        inst, venue = self.venue.instrument, self.venue
        venue.hub.publish(f"publicTrades:{self.symbol}", {
            "ts": venue.out_ts(trade.ts), "seq": self._next("trades"),
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
        venue = self.venue
        venue.hub.publish_user(
            self._account_msg("BALANCE", {"balance": render.balance_json(venue)})
        )
        venue.hub.publish_user(
            self._account_msg("POSITION", {"positions": render.positions_json(venue)})
        )

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
            if path.startswith(f"/{channel}/"):
                market = path[len(channel) + 2 :]
                if market != self.symbol:
                    raise _reject(404, f"Market not found: {market}")
                conn.names[f"{channel}:{market}"] = channel
                return conn
        raise _reject(404, f"unknown stream path {path!r}")

    def welcome(self, conn: StreamConn) -> None:
        """What a stream starts with, offered as the server registers the connection (after
        the handshake's answer, in the same step: :mod:`mmtrio.sim.wsserve`): the book's
        SNAPSHOT at the current ``seq`` (the next DELTA is ``seq`` + 1), or the account's
        BALANCE, POSITION and open ORDERs (every later change follows them)."""
        venue = self.venue
        if conn.user:
            for kind, data in (
                ("BALANCE", {"balance": render.balance_json(venue)}),
                ("POSITION", {"positions": render.positions_json(venue)}),
                ("ORDER", {"orders": [render.order_json(venue, r)
                                      for r in requests.open_orders(venue)]}),
            ):  # fmt: skip
                conn.offer(json.dumps(self._account_msg(kind, data), separators=(",", ":")))
        if f"orderbooks:{self.symbol}" in conn.names:
            snap = self._snapshot(self.seq, venue.book.ts)
            conn.offer(json.dumps(snap, separators=(",", ":")))

    async def on_message(self, conn: StreamConn, data: str | bytes) -> list[str]:
        return []  # Extended's streams take no client messages (pings are frames)
