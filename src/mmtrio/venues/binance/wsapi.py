"""Order entry over Binance's WebSocket API (ws-fapi): one signed request per order, answers
matched by request id.

Why: an order over httpx REST costs about 0.5 ms of our CPU before it reaches the network
(request building, connection pool, HTTP/1.1 framing), and waits for a free pooled
connection; on the open order socket a request is one JSON text frame.

The protocol (PROTOCOL.md, Binance "WebSocket API General Info" for USD-M futures):

- Endpoint ``wss://ws-fapi.binance.com/ws-fapi/v1`` (testnet
  ``wss://testnet.binancefuture.com/ws-fapi/v1``). A request is
  ``{"id": <ours>, "method": "order.place", "params": {...}}``; the answer carries the same
  ``id``, a ``status`` (HTTP-like), ``result`` or ``error {code, msg[, data]}``, and
  ``rateLimits`` (the same request-weight and order-count windows as REST's usage headers).
- Signing: ``apiKey``, ``timestamp`` and ``recvWindow`` join the parameters; the signature is
  over every parameter but ``signature``, sorted by name, as ``k=v`` joined by ``&`` (values
  as sent, not percent-encoded): the hex HMAC-SHA256 for an HMAC key, the base64 Ed25519
  signature for an Ed25519 key (:mod:`.signing`).
- An Ed25519 key logs each connection on first (``session.logon`` with ``apiKey``,
  ``timestamp`` and their signature; Binance: "only Ed25519 keys are supported for this
  feature"); after that, requests carry ``timestamp`` and ``recvWindow`` but neither
  ``apiKey`` nor ``signature``, and cost no signing. The socket counts as up only once the
  logon is accepted; a refused or unanswered logon ends the connection (REST carries orders,
  the socket reconnects with back-off), a 429/418 on it starts the shared back-off.

Rules, the same as :class:`~mmtrio.venues.binance.rest.BinanceRest`'s:

- A request that changes state is never retried. No answer within ``timeout_s``, an answer
  that cannot be read, or a socket that closes with the request in flight is an unknown
  outcome (:class:`OutcomeUnknownError`): the caller resolves it by querying the client id.
- A frame with an id we are not waiting for (a late answer after its timeout), a frame that
  is not JSON or has no id, is logged (the first and then every 100th), counted and
  dropped; the request it may have belonged to has already been, or will be, reported as an
  unknown outcome by its own timeout. A late 429 still starts its back-off: the venue counts
  the wait from when it answered. An answer with neither a result nor an error code is
  logged, counted and an unknown outcome. Nothing a server sends stops the reader.
- 429/418 back-offs and -1021 go through the REST client's :meth:`note_error`, so both
  transports honour one back-off (Binance counts the IP, not the transport). A 429/418
  starts its back-off in the reader, the moment the answer is read (``note_backoff``), not
  when the requesting task wakes: a task scheduled in between would otherwise pass the
  back-off check and send into the back-off.

While the socket is down, :attr:`connected` is False and the gateway sends over REST.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import orjson
import trio
from loguru import logger
from trio_websocket import ConnectionClosed, WebSocketConnection

from mmtrio.errors import (
    ConnectionFailed,
    OutcomeUnknownError,
    ProtocolError,
    RateLimited,
    VenueError,
)
from mmtrio.venues.binance import codec_rest as cr
from mmtrio.venues.binance.costs import ORDERS_1M, ORDERS_10S, WEIGHT
from mmtrio.venues.binance.rest import BinanceRest
from mmtrio.venues.binance.signing import AnySigner, Params
from mmtrio.venues.protocol import SocketHealth
from mmtrio.venues.wsconn import Connect, WsConnection, open_socket

DEFAULT_TIMEOUT_S = 5.0  # as REST's read timeout: beyond it the outcome is unknown
LOG_EVERY = 100  # unmatched/malformed frames: log the first and then every 100th

# rateLimits entries → the windows costs.py names.
_WINDOWS = {
    ("REQUEST_WEIGHT", "MINUTE", 1): WEIGHT,
    ("ORDERS", "SECOND", 10): ORDERS_10S,
    ("ORDERS", "MINUTE", 1): ORDERS_1M,
}


class _Pending:
    """One request waiting for its answer."""

    __slots__ = ("answer", "done", "limited", "lost")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.answer: Any = None
        self.lost: str | None = None  # why no answer will come (the socket closed)
        self.limited: RateLimited | None = None  # a 429/418 answer, its back-off started


class WsOrderEntry(WsConnection):
    """The order socket: connect, keep alive, match answers; :meth:`request` sends one."""

    stream_name = "orders"

    def __init__(
        self,
        url: str,
        signer: AnySigner,
        rest: BinanceRest,
        *,
        recv_window_ms: int = 5000,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        on_status: Callable[[bool, str], None] | None = None,
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
            clock_ms=rest.timestamp_ms,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            ping_interval_s=ping_interval_s,
            pong_timeout_s=pong_timeout_s,
            max_connection_age_s=max_connection_age_s,
            connect_timeout_s=connect_timeout_s,
            connect=connect,
        )
        self.url = url
        self._signer = signer
        self._rest = rest
        self._static: Params = [("apiKey", signer.api_key), ("recvWindow", str(recv_window_ms))]
        self._logged_on: Params = [("recvWindow", str(recv_window_ms))]  # after session.logon
        self._session_key = False  # this connection's session.logon was accepted
        self.logons = 0  # accepted session.logon (one per connection with an Ed25519 key)
        self.timeout_s = timeout_s
        self.on_status = on_status
        self._ws: WebSocketConnection | None = None
        self._pending: dict[str, _Pending] = {}
        self._next_id = 0
        self.requests = 0
        self.sessions = 0  # connections that came up (logged on, with an Ed25519 key)
        self.unknown_ids = 0  # answers nobody waits for (late, or not ours)
        self.bad_frames = 0  # not JSON, not an object, or no id
        self.lost_in_flight = 0  # requests whose socket closed before the answer
        self.timeouts = 0
        self.codeless_errors = 0  # answers with neither a result nor a coded error

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def health(self) -> SocketHealth:
        """Up or not, how often it came up, requests sent (status screen, metrics)."""
        return SocketHealth(self.connected, self.sessions, self.requests)

    async def run(self) -> None:
        """Connect and serve forever (cancel to stop); reconnects with backoff."""
        await self._loop()

    # --- WsConnection ---------------------------------------------------------------------
    async def _url(self) -> str:
        return self.url

    async def _emit_status(self, connected: bool, reason: str) -> None:
        if connected:
            logger.info("order socket connected: orders go over the venue's WebSocket API")
        else:
            logger.warning("order socket down ({}): orders go over REST until it is back", reason)
        if self.on_status is not None:
            self.on_status(connected, reason)

    async def _session(self, ws: WebSocketConnection) -> None:
        if self._signer.logs_on:
            await self._logon(ws)  # before the socket counts as up: nothing else is in flight
        self._ws = ws
        self.sessions += 1
        try:
            while True:
                self._on_frame(await ws.get_message())
        finally:
            self._ws = None
            self._session_key = False
            self._fail_in_flight("the order socket closed with the request in flight")

    async def _logon(self, ws: WebSocketConnection) -> None:
        """``session.logon`` with the Ed25519 key; raises the venue's error when refused."""
        self._rest.check_blocked()
        self._next_id += 1
        rid = f"logon{self._next_id}"
        params = [("apiKey", self._signer.api_key), ("timestamp", str(self._rest.timestamp_ms()))]
        body = dict(params)
        body["signature"] = self._signer.signature("&".join(f"{k}={v}" for k, v in params))
        await ws.send_message(orjson.dumps(
            {"id": rid, "method": "session.logon", "params": body}).decode())  # fmt: skip
        answer: Any = None
        with trio.move_on_after(self.timeout_s):
            while not (isinstance(answer, dict) and answer.get("id") == rid):
                try:
                    answer = orjson.loads(await ws.get_message())
                except orjson.JSONDecodeError:
                    answer = None
        if not isinstance(answer, dict):
            raise ConnectionFailed(f"session.logon: no answer within {self.timeout_s:g} s")
        self._feed_usage(answer.get("rateLimits"))
        if answer.get("status") == 200 and isinstance(answer.get("result"), dict):
            self._session_key = True
            self.logons += 1
            logger.info("order socket: session.logon accepted; requests are not signed each")
            return
        err = self._error_of(answer)
        if err is None:
            raise ProtocolError(f"session.logon: an answer without a result or an error code: "
                                f"{answer!r}")  # fmt: skip
        await self._rest.note_error(err)
        logger.error("order socket: session.logon refused: {}", err)
        raise err

    def _fail_in_flight(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for slot in pending.values():
            slot.lost = why
            slot.done.set()
        self.lost_in_flight += len(pending)

    def _on_frame(self, raw: str | bytes) -> None:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
        rid = obj.get("id") if isinstance(obj, dict) else None
        if not isinstance(rid, str):
            self.bad_frames += 1
            if self.bad_frames % LOG_EVERY == 1:
                logger.warning(
                    "order socket: a frame that is not an answer with an id was dropped ({} so "
                    "far): {!r}",
                    self.bad_frames,
                    raw[:200],
                )
            return
        error = self._error_of(obj)
        if isinstance(error, RateLimited):
            # Now: before any other task may send, and also for a request its caller gave up
            # on (the venue counts the wait from when it answered; Hyperliquid chaos seed
            # 20201, the same race).
            self._rest.note_backoff(error)
        slot = self._pending.pop(rid, None)
        if slot is None:
            self.unknown_ids += 1
            if self.unknown_ids % LOG_EVERY == 1:
                logger.warning(
                    "order socket: an answer for request {!r}, which nobody waits for (late "
                    "after its timeout, or not ours), was dropped ({} so far)",
                    rid,
                    self.unknown_ids,
                )
            return
        slot.answer = obj
        if isinstance(error, RateLimited):
            slot.limited = error
        slot.done.set()

    # --- requests -------------------------------------------------------------------------
    def _frame(self, rid: str, method: str, params: Params) -> bytes:
        if self._session_key:  # logged on: no apiKey, no signature
            body = dict([*params, *self._logged_on, ("timestamp", str(self._rest.timestamp_ms()))])
            return orjson.dumps({"id": rid, "method": method, "params": body})
        full = [*params, *self._static, ("timestamp", str(self._rest.timestamp_ms()))]
        full.sort()
        signature = self._signer.signature("&".join(f"{k}={v}" for k, v in full))
        body = dict(full)
        body["signature"] = signature
        return orjson.dumps({"id": rid, "method": method, "params": body})

    async def request(self, method: str, params: Params, *, mutates: bool) -> Any:
        """Send one signed request; return its ``result`` or raise the classified error.

        Raises :class:`ConnectionFailed` (nothing sent) when the socket is down, and
        :class:`OutcomeUnknownError` when a request that changes state may have executed."""
        ws = self._ws
        if ws is None:
            raise ConnectionFailed(f"{method} was not sent: the order socket is down")
        self._rest.check_blocked()
        self._next_id += 1
        rid = f"m{self._next_id}"
        frame = self._frame(rid, method, params)
        slot = _Pending()
        self._pending[rid] = slot
        self.requests += 1
        try:
            await ws.send_message(frame.decode())
        except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._pending.pop(rid, None)
            # The frame may be partly written: for a state change that is an unknown outcome.
            error = OutcomeUnknownError if mutates else ConnectionFailed
            raise error(f"{method}: the order socket closed while sending") from exc
        try:
            with trio.move_on_after(self.timeout_s):
                await slot.done.wait()
        finally:
            # Also when the caller gives up first (the dead-man's bounded attempt): a slot
            # left behind would keep its late answer from counting as late (see _on_frame).
            if not slot.done.is_set():
                self._pending.pop(rid, None)
        if not slot.done.is_set():
            self.timeouts += 1
            self.doubt_link(self.timeout_s)  # a silent link is replaced, a slow venue is not
            raise OutcomeUnknownError(f"{method}: no answer on the order socket within "
                                      f"{self.timeout_s:g} s")  # fmt: skip
        if slot.lost is not None:
            # A read changed nothing: "not done", so the gateway asks REST instead.
            error = OutcomeUnknownError if mutates else ConnectionFailed
            raise error(f"{method}: {slot.lost}")
        if slot.limited is not None:
            self._feed_usage(slot.answer.get("rateLimits"))
            raise slot.limited  # its back-off started when the reader read it
        return await self._result(method, slot.answer)

    def _error_of(self, answer: dict[str, Any]) -> VenueError | None:
        """The classified error of an answer with a coded error, else None (a result, or
        an answer without an error code)."""
        status = answer.get("status")
        if status == 200 and "result" in answer:
            return None
        error = answer.get("error")
        if not isinstance(error, dict) or type(error.get("code")) is not int:
            return None
        retry_after: str | None = None
        if isinstance(error.get("data"), dict):
            until = error["data"].get("retryAfter")  # epoch ms when the back-off ends
            server = error["data"].get("serverTime")  # the venue's clock when it answered
            if type(until) is int:
                # Measured on the venue's own clock when it says what time it is: our offset
                # may be stale (DST seed 200 at 60 s: after a clock skew the local estimate
                # ended a 2 s back-off 1 s early and the next request drew a 418 ban).
                now = server if type(server) is int else self._rest.timestamp_ms()
                wait_ms = max(0, until - now)
                retry_after = str(max(1, math.ceil(wait_ms / 1000)))
        return cr.parse_error_body(status if type(status) is int else 400, error, retry_after)

    async def _result(self, method: str, answer: dict[str, Any]) -> Any:
        self._feed_usage(answer.get("rateLimits"))
        if answer.get("status") == 200 and "result" in answer:
            return answer["result"]
        err = self._error_of(answer)
        if err is None:
            # No result and no coded error: nothing says the venue did not act.
            self.codeless_errors += 1
            if self.codeless_errors % LOG_EVERY == 1:
                logger.warning(
                    "order socket: {} answered without a result or an error code ({} so far): "
                    "{!r}; its outcome is unknown",
                    method,
                    self.codeless_errors,
                    answer,
                )
            raise OutcomeUnknownError(f"{method}: an answer without a result or an error code")
        await self._rest.note_error(err)
        raise err

    def _feed_usage(self, limits: Any) -> None:
        on_usage = self._rest.on_usage
        if on_usage is None or not isinstance(limits, list):
            return
        usage: dict[str, int | None] = {}
        for entry in limits:
            if not isinstance(entry, dict):
                continue
            key = (entry.get("rateLimitType"), entry.get("interval"), entry.get("intervalNum"))
            name = _WINDOWS.get(key)  # type: ignore[arg-type]
            count = entry.get("count")
            if name is not None and type(count) is int:
                usage[name] = count
        if usage:
            on_usage(usage)


def parse_or_unknown(parse: Callable[[], Any], method: str) -> Any:
    """Run ``parse`` on a state-changing answer: unreadable means the outcome is unknown."""
    try:
        return parse()
    except ProtocolError as exc:
        msg = f"{method} succeeded but its answer is unreadable: {exc}"
        raise OutcomeUnknownError(msg) from exc
