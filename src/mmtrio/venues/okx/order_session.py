"""Order entry over OKX's private WebSocket ops, answers matched by request id.

OKX v5 docs ("WebSocket Trade API"): after ``login`` on ``/ws/v5/private`` a client sends
``{"id", "op", "args"}`` with ``op`` one of ``order``, ``batch-orders``, ``amend-order``,
``batch-amend-orders``, ``cancel-order``, ``batch-cancel-orders``; OKX answers
``{"id", "op", "code", "msg", "data": [{ordId, clOrdId, ts, sCode, sMsg}]}`` with the same
``id`` (alphanumeric, at most 32 characters). The ops share their REST endpoints' rate
limits.

The rules, the same as the REST client's:

* A request is sent only while the session is logged in; otherwise :meth:`request` raises
  ConnectionFailed *before* anything leaves, and the gateway sends it over REST instead.
* Once the bytes are written, an answer that never comes (the socket drops, or
  ``response_timeout_s`` passes) is an **unknown outcome** (OutcomeUnknownError): the
  order may exist, and execution resolves it by querying the ``clOrdId`` before anything
  is resubmitted. A late answer to a request already given up is dropped (counted).
* Nothing is retried here.

The log says when order entry moves, in the Binance order socket's words: ``order socket
connected: orders go over OKX's private WebSocket`` once a connection is logged in, and
``order socket down (<reason>): orders go over REST until it is back`` when one ends.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import trio
from loguru import logger
from trio_websocket import ConnectionClosed, WebSocketConnection

from mmtrio.errors import ConnectionFailed, OutcomeUnknownError
from mmtrio.venues.okx.codec import OpResult, WsEvent
from mmtrio.venues.okx.wsbase import OkxWs
from mmtrio.venues.protocol import SocketHealth

DEFAULT_RESPONSE_TIMEOUT_S = 5.0
MAX_IN_FLIGHT = 256


class _Slot:
    __slots__ = ("done", "reason", "result")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.result: OpResult | None = None
        self.reason = ""


class OrderSession(OkxWs):
    """One logged-in private connection for order ops (see the module docstring)."""

    stream_name = "orders"

    def __init__(
        self,
        url: str,
        decoder: Any,
        *,
        response_timeout_s: float = DEFAULT_RESPONSE_TIMEOUT_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, decoder, **kwargs)
        self.response_timeout_s = response_timeout_s
        self._ws: WebSocketConnection | None = None
        self._up = trio.Event()
        self._pending: dict[str, _Slot] = {}
        self._next = 0
        self.sent = 0
        self.sessions = 0  # logged-in connections
        self.late_answers = 0
        self.unmatched: Counter[str] = Counter()
        self.last_down = ""

    @property
    def ready(self) -> bool:
        """True while logged in: requests go over this connection."""
        return self._ws is not None

    def health(self) -> SocketHealth:
        """Logged in or not, how often it logged in, ops sent (status screen, metrics)."""
        return SocketHealth(self.ready, self.sessions, self.sent)

    async def wait_ready(self) -> None:
        """Return once the session is logged in (at once if it is)."""
        await self._up.wait()

    async def run(self) -> None:
        """Connect, log in, keep connected; until cancelled (run by the user stream)."""
        await self._loop()

    async def _emit_status(self, connected: bool, reason: str) -> None:
        # "Up" is said once logged in (_serve), not when the socket merely opened.
        if not connected:
            self.last_down = reason
            logger.warning("order socket down ({}): orders go over REST until it is back", reason)

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        await self._login(ws)
        self._ws = ws
        self.sessions += 1
        self._up.set()
        logger.info("order socket connected: orders go over OKX's private WebSocket")
        try:
            await super()._serve(ws, nursery)
        finally:
            self._ws = None
            self._up = trio.Event()
            self._fail_pending(self._end_reason or "order session closed")

    def _fail_pending(self, reason: str) -> None:
        for slot in self._pending.values():
            if not slot.done.is_set():
                slot.reason = f"the order session closed before the answer ({reason})"
                slot.done.set()

    async def _session(self, ws: WebSocketConnection) -> None:
        while True:
            msg = await ws.get_message()
            for rec in self._decode(msg):
                if isinstance(rec, OpResult):
                    self._proven()  # an answer to an order op; a pong is not
                    slot = self._pending.get(rec.id)
                    if slot is None:
                        self.late_answers += 1
                        continue
                    slot.result = rec
                    slot.done.set()
                elif isinstance(rec, WsEvent):
                    self.unmatched[f"{rec.event}:{rec.code}"] += 1
                else:
                    self.unmatched[type(rec).__name__] += 1

    def _new_id(self) -> str:
        self._next += 1
        return f"m{self._next:x}"

    async def request(self, op: str, args: list[dict[str, str]]) -> OpResult:
        """Send one op and wait for its answer (see the module docstring for failures)."""
        ws = self._ws
        if ws is None:
            raise ConnectionFailed(f"the OKX order session is not logged in; {op} not sent")
        if len(self._pending) >= MAX_IN_FLIGHT:
            raise ConnectionFailed(f"{MAX_IN_FLIGHT} order ops in flight; {op} not sent")
        rid = self._new_id()
        slot = _Slot()
        self._pending[rid] = slot
        try:
            try:
                await self._send(ws, {"id": rid, "op": op, "args": args})
            except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ConnectionFailed(
                    f"the OKX order session closed; {op} not sent ({type(exc).__name__})"
                ) from exc
            self.sent += 1
            with trio.move_on_after(self.response_timeout_s):
                await slot.done.wait()
            if slot.result is None:
                if not slot.reason:  # no answer on a link still up: is it silent?
                    self.doubt_link(self.response_timeout_s)
                reason = slot.reason or f"no answer within {self.response_timeout_s} s"
                raise OutcomeUnknownError(f"{op} over the WebSocket: {reason}")
            return slot.result
        finally:
            self._pending.pop(rid, None)
