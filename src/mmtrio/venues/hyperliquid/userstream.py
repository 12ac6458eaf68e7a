"""The user feed (``orderUpdates``, ``userFills``, ``userEvents``) and, on the same
connection, order entry over the websocket ``post`` method.

**User events are lossless.** The reader parses each message and awaits it into an internal
channel; a delivery task (alive across reconnects, so nothing queued is lost when a
connection drops) awaits each into the runtime's sink. The reader itself answers ``post``
replies at once, so a slow consumer delays user events but never our own order answers.

**Translation to the core's one-order view** (:mod:`.tracking` keeps the memory):
``orderUpdates`` states become OrderUpdates without a fill (``open`` NEW or
PARTIALLY_FILLED, ``filled`` FILLED once its fills are in (before, it is skipped: the last
fill's TRADE says FILLED), every ``…Canceled``/``scheduledCancel`` CANCELED, every
``…Rejected`` REJECTED; the new leg of a modify AMENDMENT; the old leg's cancel is dropped);
each fill of ``userFills`` becomes a TRADE update carrying it, with the order's cumulative
fill over every leg. The stream's first ``userFills`` message (``isSnapshot``) is the
account's recent history, not news: it is skipped (reconciliation through ``/info`` books
anything missed, and the runtime asks for a pass after every reconnect). ``userEvents``
brings ``funding`` (a FundingPayment, hourly), ``nonUserCancel`` (a CANCELED update) and
``liquidation`` (logged by counting; the position check sees it); its ``fills`` repeat
``userFills`` and are skipped.

**Websocket ``post``.** ``{"method": "post", "id": n, "request": {"type": "action",
"payload": <the /exchange body>}}``, answered on channel ``post`` with the same id. A post
sent on a connection that then drops, or not answered within ``post_timeout_s``, has an
*unknown* outcome (OutcomeUnknownError); a post that could not be sent at all raises
:class:`PostUnavailable` and the gateway falls back to REST ``/exchange``.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from mmtrio.core.events import (
    Event,
    ExecType,
    FeedStatus,
    Fill,
    FundingPayment,
    OrderStatus,
    OrderUpdate,
    TimeInForce,
)
from mmtrio.core.instruments import Instrument
from mmtrio.error_text import error_text
from mmtrio.errors import MmtrioError, OutcomeUnknownError, ProtocolError, RateLimited
from mmtrio.venues.hyperliquid.codec import OrderState, decimal_of, dumps, field, int_of, loads
from mmtrio.venues.hyperliquid.codec_info import parse_fill, parse_order
from mmtrio.venues.hyperliquid.tracking import OrderTracking, Tracked, is_cancel_status
from mmtrio.venues.hyperliquid.wsbase import HyperliquidWs, subscribe_frame
from mmtrio.venues.protocol import SocketHealth, UserSink
from mmtrio.venues.wsconn import Connect, open_socket

DEFAULT_POST_TIMEOUT_S = 5.0
QUEUE = 10_000
MAX_IN_FLIGHT = 100  # "Maximum of 100 simultaneous inflight post messages" (Rate limits)
# What proves a connection healthy (WsConnection._proven): the subscriptions' data (userFills
# opens with its snapshot) and answers to posts; a pong or a subscription answer does not.
_PROVING_CHANNELS = frozenset(("orderUpdates", "userFills", "user", "post"))


class PostUnavailable(MmtrioError):
    """The websocket cannot carry a post now (not connected, too many in flight): use REST."""


def status_of(st: OrderState, filled: int, qty: int) -> tuple[OrderStatus, ExecType]:
    """The neutral status and exec type of a venue order state."""
    s = st.status
    if s in {"open", "triggered"}:
        live = OrderStatus.PARTIALLY_FILLED if 0 < filled < qty else OrderStatus.NEW
        if filled >= qty > 0:
            live = OrderStatus.FILLED
        return live, ExecType.NEW
    if s == "filled":
        return OrderStatus.FILLED, ExecType.NEW
    if is_cancel_status(s):
        return OrderStatus.CANCELED, ExecType.CANCELED
    if s == "rejected" or s.endswith("Rejected"):
        return OrderStatus.REJECTED, ExecType.EXPIRED
    raise ProtocolError(f"order status {s!r} is not one Hyperliquid documents")


def to_update(
    st: OrderState, t: Tracked | None, symbol: str, *, amended: bool = False
) -> OrderUpdate:
    """An order state as the core's OrderUpdate (quantities over every leg when tracked)."""
    if t is not None:
        filled, qty = t.filled, max(t.qty, t.filled)
        tif, reduce_only = t.tif, t.reduce_only
    else:
        filled, qty = st.filled, st.orig_qty
        tif = st.tif or TimeInForce.GTC
        reduce_only = st.reduce_only
    status, exec_type = status_of(st, filled, qty)
    if amended and status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
        exec_type = ExecType.AMENDMENT
    return OrderUpdate(
        symbol, st.cloid, st.oid, st.side, exec_type, status, st.price, qty, filled,
        tif, reduce_only, st.ts,
    )  # fmt: skip


def fill_update(fill: Fill, t: Tracked | None) -> OrderUpdate:
    """A fill as a TRADE update of its order."""
    if t is not None:
        # Cumulative over the fills delivered (not the legs' states): the order is FILLED
        # with its last fill, never before one still on its way is booked.
        filled, qty = t.fill_lots, max(t.qty, t.filled)
        price, tif, ro = t.price, t.tif, t.reduce_only
    else:
        # An order this process never saw (placed by an earlier run and not yet read back):
        # the core books the fill; cum 0 never lowers what it holds.
        filled, qty, price, tif, ro = 0, fill.qty, fill.price, TimeInForce.GTC, False
    status = OrderStatus.FILLED if filled >= qty else OrderStatus.PARTIALLY_FILLED
    return OrderUpdate(
        fill.symbol, fill.client_id, fill.order_id, fill.side, ExecType.TRADE, status, price,
        qty, filled, tif, ro, fill.ts, fill,
    )  # fmt: skip


class UserStream(HyperliquidWs):
    """Our orders, fills and funding for one account and coin; the ``post`` transport."""

    stream_name = "user"

    def __init__(
        self,
        url: str,
        account: str,
        instrument: Instrument,
        tracking: OrderTracking,
        *,
        clock_ms: Callable[[], int],
        post_timeout_s: float = DEFAULT_POST_TIMEOUT_S,
        rng: random.Random | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        ping_interval_s: float = 30.0,
        pong_timeout_s: float = 10.0,
        max_connection_age_s: float = 23.5 * 3600,
        connect_timeout_s: float = 10.0,
        connect: Connect = open_socket,
    ) -> None:
        super().__init__(
            rng=rng,
            clock_ms=clock_ms,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            ping_interval_s=ping_interval_s,
            pong_timeout_s=pong_timeout_s,
            max_connection_age_s=max_connection_age_s,
            connect_timeout_s=connect_timeout_s,
            connect=connect,
        )
        self._ws_url = url
        self.account = account
        self.instrument = instrument
        self.coin = instrument.symbol
        self.tracking = tracking
        self.post_timeout_s = post_timeout_s
        # Told of every 429 a post is answered with, as the reader reads it (see _on_post).
        self.on_limit: Callable[[RateLimited], None] | None = None
        self._send: UserSink | None = None
        self._queue_send, self._queue_recv = trio.open_memory_channel[Event](QUEUE)
        # Held cancels released by a modify's answer (tracking.release): few, never dropped.
        self._released_send, self._released_recv = trio.open_memory_channel[Event](math.inf)
        self._ws: WebSocketConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[trio.Event, list[Any]]] = {}
        self.skipped: Counter[str] = Counter()
        self.posts = 0
        self.sessions = 0  # connections that came up subscribed (and could carry posts)
        tracking.release = self._release

    # --- lifecycle ------------------------------------------------------------------------
    async def run(self, send: UserSink) -> None:
        self._send = send
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._forward, self._queue_recv)
            nursery.start_soon(self._forward, self._released_recv)
            await self._loop()

    async def _forward(self, recv: trio.MemoryReceiveChannel[Event]) -> None:
        send = self._deliver()
        async for event in recv:
            await send(event)

    def _deliver(self) -> UserSink:
        if self._send is None:
            raise MmtrioError("the user stream delivers only while run() is running")
        return self._send

    async def _url(self) -> str:
        return self._ws_url

    async def _emit_status(self, connected: bool, reason: str) -> None:
        await self._queue_send.send(
            FeedStatus(self.stream_name, connected, reason, self._clock_ms())
        )

    def _release(self, states: list[OrderState]) -> None:
        for st in states:
            t = self.tracking.get(st.cloid)
            self._released_send.send_nowait(to_update(st, t, self.coin))

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        for kind in ("orderUpdates", "userFills", "userEvents"):
            await ws.send_message(subscribe_frame({"type": kind, "user": self.account}))
        self._ws = ws
        self.sessions += 1
        try:
            await super()._serve(ws, nursery)
        finally:
            self._ws = None
            self._fail_pending("the websocket closed before the venue answered")

    # --- post -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ws is not None

    def health(self) -> SocketHealth:
        """As the order socket: up or not, how often it came up, posts sent."""
        return SocketHealth(self.connected, self.sessions, self.posts)

    def _fail_pending(self, reason: str) -> None:
        for done, slot in self._pending.values():
            if not slot:
                slot.append(OutcomeUnknownError(reason))
            done.set()
        self._pending.clear()

    async def post(self, kind: str, payload: dict[str, Any]) -> Any:
        """Send ``payload`` as a ``post`` of ``kind`` ("action" | "info"); the answer's
        payload (an ``/exchange`` body for an action)."""
        ws = self._ws
        if ws is None or len(self._pending) >= MAX_IN_FLIGHT:
            raise PostUnavailable("the order websocket is not connected")
        rid = next(self._ids)
        done, slot = trio.Event(), list[Any]()
        self._pending[rid] = (done, slot)
        frame = dumps({"method": "post", "id": rid, "request": {"type": kind, "payload": payload}})
        try:
            await ws.send_message(frame.decode())
        except (ConnectionClosed, trio.BrokenResourceError, OSError) as exc:
            self._pending.pop(rid, None)
            # The frame may or may not have reached the venue: an action's fate is unknown.
            raise OutcomeUnknownError(
                f"websocket post {rid}: the connection failed while sending: {error_text(exc)}"
            ) from None
        self.posts += 1
        try:
            with trio.move_on_after(self.post_timeout_s):
                await done.wait()
        finally:
            # Also when the caller gives up first (the dead-man's bounded attempt): a waiter
            # left behind would swallow the late answer (a 429 whose back-off then went
            # unheeded: chaos seed 20201) and count against MAX_IN_FLIGHT for good.
            self._pending.pop(rid, None)
        if not slot:
            self.doubt_link(self.post_timeout_s)  # a silent link is replaced, a slow one not
            raise OutcomeUnknownError(
                f"no answer to websocket post {rid} within {self.post_timeout_s:g} s"
            )
        result = slot[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _on_post(self, data: Any) -> None:
        rid = int_of(field(data, "id", "post answer"), "post id")
        response = field(data, "response", "post answer")
        kind = field(response, "type", "post answer")
        payload = response.get("payload")
        if kind == "error":
            said = payload if isinstance(payload, str) else dumps(payload).decode()
            result: Any = _post_error(said)
            if isinstance(result, RateLimited) and self.on_limit is not None:
                # Now, in the reader: before any other task may send, and also for a post its
                # caller gave up on (the venue counts the wait from when it answered; chaos
                # seed 20201: a dead-man refresh went out inside a late 429's back-off: 418).
                self.on_limit(result)
        elif kind == "info":
            result = payload.get("data") if isinstance(payload, dict) else payload
        else:
            result = payload
        waiter = self._pending.get(rid)
        if waiter is None:
            self.skipped["late post answer"] += 1
            return
        done, slot = waiter
        slot.append(result)
        done.set()

    # --- reading --------------------------------------------------------------------------
    async def _session(self, ws: WebSocketConnection) -> None:
        while True:
            msg = await ws.get_message()
            try:
                events = self._handle(loads(msg, "user message"))
            except ProtocolError as exc:
                self._count_protocol_error(exc)
                continue
            for ev in events:
                await self._queue_send.send(ev)

    def _handle(self, msg: Any) -> list[Event]:
        if not isinstance(msg, dict):
            raise ProtocolError(f"user message is not an object: {msg!r}"[:200])
        channel, data = msg.get("channel"), msg.get("data")
        if channel in _PROVING_CHANNELS:
            self._proven()  # account data or a post's answer; a pong or subscription answer is not
        if channel == "post":
            self._on_post(data)
            return []
        if channel == "orderUpdates":
            return self._on_order_updates(data)
        if channel == "userFills":
            if isinstance(data, dict) and data.get("isSnapshot"):
                self.skipped["userFills snapshot"] += 1
                return []
            return self._on_fills(field(data, "fills", "userFills"))
        if channel == "user":
            return self._on_user_event(data)
        if channel == "pong":
            self._pong()
            return []
        if channel == "error":
            text = data if isinstance(data, str) else repr(data)
            self._on_channel_error(text)
            return []
        self.skipped[str(channel)] += 1
        return []

    def _on_channel_error(self, text: str) -> None:
        # "… id=123" names a post the venue refused to process (too many pending, malformed).
        tail = text.rsplit("id=", 1)
        if len(tail) == 2 and tail[1].strip().isdigit():
            waiter = self._pending.get(int(tail[1].strip()))
            if waiter is not None:
                waiter[1].append(_post_error(text))
                waiter[0].set()
                return
        raise ProtocolError(f"venue error on the user stream: {text}"[:300])

    def _on_order_updates(self, data: Any) -> list[Event]:
        if not isinstance(data, list):
            raise ProtocolError("orderUpdates: expected a list")
        out: list[Event] = []
        for row in data:
            order = field(row, "order", "orderUpdates")
            if order.get("coin") != self.coin:
                continue
            status = field(row, "status", "orderUpdates")
            if not isinstance(status, str):
                raise ProtocolError(f"orderUpdates: status {status!r} is not a word")
            ts = int_of(row.get("statusTimestamp", 0), "orderUpdates statusTimestamp")
            st = parse_order(order, self.instrument, status, ts)
            what, t = self.tracking.on_state(st)
            if what in ("drop", "hold"):
                self.skipped[f"cancel {what}"] += 1
                continue
            if st.status == "filled" and (t is None or t.fill_lots < max(t.qty, t.filled)):
                # The fills come on userFills, the last one saying FILLED. Passed on alone,
                # 'filled' ended the order in the core before its fill was booked, and the
                # next quote was sized on a position one fill short (chaos seed 1825: a buy
                # placed at the position limit, worst case 21 lots for 20).
                self.skipped["filled before its fills"] += 1
                continue
            out.append(to_update(st, t, self.coin, amended=what == "amended"))
        return out

    def _on_fills(self, rows: Any) -> list[Event]:
        if not isinstance(rows, list):
            raise ProtocolError("userFills: fills is not a list")
        out: list[Event] = []
        for row in rows:
            if not isinstance(row, dict) or row.get("coin") != self.coin:
                continue
            fill = parse_fill(row, self.instrument)
            t = self.tracking.on_fill(fill.client_id, fill.order_id, fill.trade_id, fill.qty)
            if not fill.client_id and t is not None:
                fill = Fill(
                    fill.symbol, fill.trade_id, t.cloid, fill.order_id, fill.side, fill.price,
                    fill.qty, fill.fee, fill.fee_asset, fill.is_maker, fill.ts,
                )  # fmt: skip
            out.append(fill_update(fill, t))
        return out

    def _on_user_event(self, data: Any) -> list[Event]:
        if not isinstance(data, dict):
            raise ProtocolError("userEvents: expected an object")
        if "funding" in data:
            f = data["funding"]
            if field(f, "coin", "funding") != self.coin:
                return []
            amount = decimal_of(field(f, "usdc", "funding"), "funding usdc")
            ts = int_of(field(f, "time", "funding"), "funding time")
            return [FundingPayment(self.coin, amount, ts)]  # + received, − paid
        if "nonUserCancel" in data:
            out: list[Event] = []
            for row in data["nonUserCancel"] or []:
                if field(row, "coin", "nonUserCancel") != self.coin:
                    continue
                oid = int_of(field(row, "oid", "nonUserCancel"), "nonUserCancel oid")
                cloid = self.tracking.cloid_of(oid)
                t = self.tracking.get(cloid) if cloid else None
                if t is None:
                    self.skipped["nonUserCancel of an unknown order"] += 1
                    continue
                out.append(
                    OrderUpdate(
                        self.coin,
                        t.cloid,
                        oid,
                        t.side,
                        ExecType.CANCELED,
                        OrderStatus.CANCELED,
                        t.price,
                        max(t.qty, t.filled),
                        t.filled,
                        t.tif,
                        t.reduce_only,
                        self._clock_ms(),
                    )
                )
            return out
        for key in ("fills", "liquidation", "twapHistory", "twapSliceFills"):
            if key in data:
                self.skipped[f"userEvents {key}"] += 1
                return []
        self.skipped["userEvents other"] += 1
        return []


_STATED_WAIT = re.compile(r"retry after (\d+(?:\.\d+)?) ?s", re.IGNORECASE)


def _post_error(text: str) -> Exception:
    low = text.lower()
    if "too many" in low or "rate limit" in low:
        # A wait stated in the answer is honoured (our simulated venue states one); without
        # one the gateway waits its documented fallback.
        stated = _STATED_WAIT.search(text)
        wait = float(stated.group(1)) if stated else None
        return RateLimited(text, retry_after_s=wait)
    # The venue answered the post with an error instead of the action's result: whether the
    # action ran is not said, so its outcome is unknown (resolved by querying the cloid).
    return OutcomeUnknownError(f"the venue answered the post with an error: {text}")
