"""BinanceRest: the Binance USD-M REST client on httpx (Trio via anyio).

Rules this client enforces, because the caller cannot do it afterwards:

* It never retries a request that changes state (place, amend, cancel, cancel-all): a retry
  of a request whose first copy may have executed can double an order. Reads (GET) are
  retried once on a transport error.
* An answer that does not say whether the request executed (5xx, -1006/-1007, a timeout or
  a dropped connection after the request was written) raises OutcomeUnknownError; the caller
  resolves it by querying the client order id.
* After a 429/418 it refuses to send anything until ``Retry-After`` has passed (raising
  RateLimited without touching the network): retrying into a 418 extends an IP ban. The
  check runs again when the request's bytes are about to leave, so a request that waited in
  the connection pool while a 429 arrived is not sent either.
* Signed timestamps are ``local clock + offset`` where the offset is measured against
  ``GET /fapi/v1/time`` at start and periodically (``run_time_sync``), so -1021 does not
  happen; if it still does, the offset is resynced before the error is raised.
* Every response's X-MBX-* usage headers go to ``on_headers`` (the runtime's RateBudget).
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

import httpx
import trio

from mmtrio.core.clock_offset import ClockReading, ClockSample
from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, PlaceOrder, QueryOrder
from mmtrio.core.events import Fill
from mmtrio.errors import (
    ClockSkewError,
    ConfigError,
    ConnectionFailed,
    OutcomeUnknownError,
    ProtocolError,
    RateLimited,
    VenueError,
)
from mmtrio.venues.binance import codec_rest as cr
from mmtrio.venues.binance.codec import BinanceDecoder, loads
from mmtrio.venues.binance.codec_fields import InstrumentLookup, ascii_int, get_dec
from mmtrio.venues.binance.codec_market import DepthSnapshot
from mmtrio.venues.binance.costs import usage_from_headers
from mmtrio.venues.binance.signing import AnySigner, Params, encode_params
from mmtrio.venues.clock_sync import sample_clock
from mmtrio.venues.patience import PatientReads, ReadPatience
from mmtrio.venues.timeouts import DEFAULT_TIMEOUT

T = TypeVar("T")
UsageCallback = Callable[[dict[str, int | None]], None]
"""``on_usage({window name: count})`` from the usage headers; None = header absent."""

DEFAULT_LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=55)
# Binance always sends Retry-After with 429/418; should it not, back off this long (a 418
# ban lasts at least 2 minutes, so guessing shorter would only earn a longer one).
FALLBACK_RETRY_AFTER_429_S = 10.0
FALLBACK_RETRY_AFTER_418_S = 120.0
DEFAULT_TIME_SYNC_INTERVAL_S = 300.0
TIME_SYNC_RETRY_S = 10.0


def wall_clock_ms() -> int:
    """The local wall clock in ms (signed timestamps are wall time by Binance's definition)."""
    return time.time_ns() // 1_000_000


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    val = headers.get(name)
    return None if val is None else ascii_int(val)


class BinanceRest(PatientReads):
    """Async REST client for one Binance USD-M endpoint (live, testnet or the simulated venue)."""

    def __init__(
        self,
        base_url: str,
        decoder: BinanceDecoder | None = None,
        *,
        signer: AnySigner | None = None,
        on_usage: UsageCallback | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        recv_window_ms: int = 5000,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
        on_blocked: Callable[[int, bool], None] | None = None,
    ) -> None:
        """``on_blocked(until_ms, banned)`` (on ``clock_ms``) is told of every 429/418
        back-off, ``banned`` for a 418, so the caller can keep it beyond this client's life (a
        restarted process must honour it too).
        ``decoder`` may come later (:attr:`decoder`): exchangeInfo, time and the listen key
        need none, and the instrument the decoder needs is read from exchangeInfo."""
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"REST base URL {base_url!r} must start with http:// or https://")
        if not 1 <= recv_window_ms <= 60_000:
            raise ConfigError(f"recvWindow must be within 1..60000 ms, got {recv_window_ms}")
        self._decoder = decoder
        self._signer = signer
        self.on_usage = on_usage
        self._on_blocked = on_blocked
        self._clock_ms = clock_ms
        self._recv_window = str(recv_window_ms)
        headers = {"X-MBX-APIKEY": signer.api_key} if signer is not None else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            limits=limits,
            transport=transport,
        )
        self.time_offset_ms = 0
        self.last_time_sync_ms: int | None = None
        self.time_sync_failures = 0
        self._blocked_until: float | None = None  # trio clock, after a 429/418
        # on_read_retry, set during start-up: failed reads tried again (venues/patience)
        self._patience = ReadPatience(self._client, FALLBACK_RETRY_AFTER_429_S)

    @property
    def decoder(self) -> BinanceDecoder:
        if self._decoder is None:
            raise ConfigError("the REST client has no instrument yet: load exchangeInfo first")
        return self._decoder

    @decoder.setter
    def decoder(self, value: BinanceDecoder) -> None:
        self._decoder = value

    # --- lifecycle ----------------------------------------------------------------------
    async def __aenter__(self) -> BinanceRest:
        await self.sync_time()
        return self

    @asynccontextmanager
    async def closing(self) -> AsyncIterator[BinanceRest]:
        """Like ``async with rest`` but without the time sync on entry (the caller syncs)."""
        try:
            yield self
        finally:
            with trio.CancelScope(shield=True):
                await self.aclose()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def __repr__(self) -> str:
        return f"BinanceRest(base_url={str(self._client.base_url)!r}, signer={self._signer!r})"

    # --- time ---------------------------------------------------------------------------
    async def server_time(self) -> int:
        return cr.parse_server_time(await self._request("GET", "/fapi/v1/time", []))

    async def sync_time(self) -> ClockReading:
        """Measure the server-time offset from a few timed answers (the fastest round trip's
        midpoint, ``venues/clock_sync.py``), apply it and return the reading."""
        reading = await sample_clock(self._time_sample, self.time_offset_ms)
        if reading.measured:
            self.time_offset_ms = reading.offset_ms
            self.last_time_sync_ms = self._clock_ms()
        return reading

    async def _time_sample(self) -> ClockSample:
        while True:
            t0 = self._clock_ms()  # per attempt: a back-off waited out is not round trip
            try:
                body = await self._request_once(
                    "GET", "/fapi/v1/time", [], signed=False, keyed=False, mutates=False
                )
            except (RateLimited, OutcomeUnknownError, ConnectionFailed, ClockSkewError) as exc:
                if not await self._wait_out(exc):
                    raise
                continue
            break
        return ClockSample(t0, cr.parse_server_time(body), self._clock_ms())

    async def run_time_sync(self, interval_s: float = DEFAULT_TIME_SYNC_INTERVAL_S) -> None:
        """Resync the offset forever. A failed sync keeps the last offset and retries soon;
        failures are counted in ``time_sync_failures`` for the status screen."""
        while True:
            try:
                await self.sync_time()
            except (VenueError, ProtocolError):
                self.time_sync_failures += 1
                await trio.sleep(TIME_SYNC_RETRY_S)
                continue
            await trio.sleep(interval_s)

    def timestamp_ms(self) -> int:
        return self._clock_ms() + self.time_offset_ms

    # --- market data --------------------------------------------------------------------
    async def exchange_info(self, symbols: set[str] | None = None) -> cr.ExchangeInfo:
        return cr.parse_exchange_info(
            await self._request("GET", "/fapi/v1/exchangeInfo", []), symbols
        )

    async def mark_price(self, symbol: str) -> Decimal:
        """``GET /fapi/v1/premiumIndex``: the symbol's mark price (weight 1)."""
        body = await self._request("GET", "/fapi/v1/premiumIndex", [("symbol", symbol)])
        if not isinstance(body, dict):
            raise ProtocolError(f"premiumIndex {symbol}: expected a JSON object, got {body!r}")
        price = get_dec(body, "markPrice", f"premiumIndex {symbol}")
        if not price > 0:
            raise ProtocolError(f"premiumIndex {symbol}: markPrice {price} is not positive")
        return price

    async def depth_snapshot(self, symbol: str, limit: int = 1000) -> DepthSnapshot:
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            raise ConfigError(f"depth limit must be one of 5,10,20,50,100,500,1000, got {limit}")
        body = await self._request(
            "GET", "/fapi/v1/depth", [("symbol", symbol), ("limit", str(limit))]
        )
        return self.decoder.decode_snapshot(body, symbol)

    # --- orders -------------------------------------------------------------------------
    async def place_order(self, cmd: PlaceOrder) -> cr.OrderAck:
        params = cr.place_params(cmd, self.decoder.codec_for(cmd.symbol).instrument)
        body = await self._request("POST", "/fapi/v1/order", params, signed=True, mutates=True)
        return self._parse_after_mutation(cr.parse_order_ack, body, "place")

    async def amend_order(self, cmd: AmendOrder) -> cr.OrderState:
        params = cr.amend_params(cmd, self.decoder.codec_for(cmd.symbol).instrument)
        body = await self._request("PUT", "/fapi/v1/order", params, signed=True, mutates=True)
        return self._parse_after_mutation(cr.parse_order_state, body, "amend")

    async def cancel_order(self, cmd: CancelOrder) -> cr.OrderState:
        body = await self._request(
            "DELETE", "/fapi/v1/order", cr.cancel_params(cmd), signed=True, mutates=True
        )
        return self._parse_after_mutation(cr.parse_order_state, body, "cancel")

    async def cancel_all(self, cmd: CancelAll) -> None:
        body = await self._request(
            "DELETE", "/fapi/v1/allOpenOrders", cr.cancel_all_params(cmd), signed=True, mutates=True
        )
        # {"code": 200, "msg": "..."} is success; any other code inside a 200 is unexplained.
        if not isinstance(body, dict) or body.get("code") != 200:
            raise OutcomeUnknownError(f"cancel-all answered an unexpected body {body!r}")

    async def query_order(self, cmd: QueryOrder) -> cr.OrderState:
        """The order by client id; -2013 (no such order) raises a definite VenueError."""
        body = await self._request("GET", "/fapi/v1/order", cr.cancel_params(cmd), signed=True)
        return cr.parse_order_state(body, self.decoder.codec_for)

    async def open_orders(self, symbol: str) -> list[cr.OrderState]:
        body = await self._request("GET", "/fapi/v1/openOrders", [("symbol", symbol)], signed=True)
        return cr.parse_open_orders(body, self.decoder.codec_for)

    async def user_trades(
        self, symbol: str, from_id: int | None = None, limit: int = 1000
    ) -> list[Fill]:
        """Our fills from trade id ``from_id`` (inclusive; the latest ``limit`` when None).

        Fills carry ``client_id=""``: Binance names only the orderId here."""
        if not 1 <= limit <= 1000:
            raise ConfigError(f"userTrades limit must be within 1..1000, got {limit}")
        params = [("symbol", symbol), ("limit", str(limit))]
        if from_id is not None:
            params.append(("fromId", str(from_id)))
        body = await self._request("GET", "/fapi/v1/userTrades", params, signed=True)
        return cr.parse_user_trades(body, self.decoder.codec_for)

    async def position_risk(self, symbol: str) -> list[cr.PositionRisk]:
        body = await self._request(
            "GET", "/fapi/v2/positionRisk", [("symbol", symbol)], signed=True
        )
        return cr.parse_position_risk(body, self.decoder.codec_for)

    async def account(self) -> cr.AccountInfo:
        body = await self._request("GET", "/fapi/v2/account", [], signed=True)
        return cr.parse_account(body, self.decoder.codec_for)

    async def read_signed(self, path: str, params: Params) -> Any:
        """A signed GET's decoded body, for readers that parse it themselves (``account.py``)."""
        return await self._request("GET", path, params, signed=True)

    async def countdown_cancel_all(self, symbol: str, countdown_ms: int) -> int:
        """Arm (or with 0 disarm) the venue-side dead-man switch; returns the countdown set.
        Re-arming is idempotent, so a read-style single retry on a transport error is safe."""
        if countdown_ms < 0:
            raise ConfigError(f"countdownTime must be >= 0 ms, got {countdown_ms}")
        params = [("symbol", symbol), ("countdownTime", str(countdown_ms))]
        body = await self._request("POST", "/fapi/v1/countdownCancelAll", params, signed=True)
        return cr.parse_countdown(body)

    # --- user stream --------------------------------------------------------------------
    async def new_listen_key(self) -> str:
        return cr.parse_listen_key(
            await self._request("POST", "/fapi/v1/listenKey", [], keyed=True)
        )

    async def keepalive_listen_key(self) -> None:
        await self._request("PUT", "/fapi/v1/listenKey", [], keyed=True)

    async def close_listen_key(self) -> None:
        await self._request("DELETE", "/fapi/v1/listenKey", [], keyed=True)

    # --- transport ----------------------------------------------------------------------
    def _parse_after_mutation(
        self, parse: Callable[[Any, InstrumentLookup], T], body: Any, op: str
    ) -> T:
        # The venue acted (HTTP 200) but the answer is unreadable: the order's state is
        # unknown to us, which is exactly what a query by client id resolves.
        try:
            return parse(body, self.decoder.codec_for)
        except ProtocolError as exc:
            raise OutcomeUnknownError(
                f"{op} succeeded but its answer is unreadable: {exc}"
            ) from exc

    async def note_error(self, err: VenueError) -> None:
        """Act on an error answer from this venue, whichever transport carried it: a 429/418
        starts the back-off every later request honours (REST and the order socket count
        against the same IP limits); -1021 resyncs the clock offset."""
        if isinstance(err, RateLimited):
            self.note_backoff(err)
        elif isinstance(err, ClockSkewError):
            try:
                await self.sync_time()
            except (VenueError, ProtocolError):
                self.time_sync_failures += 1

    def note_backoff(self, err: RateLimited) -> None:
        """Start the back-off of a 429/418 now, synchronously: the order socket's reader
        calls it the moment it reads such an answer, before the requesting task wakes (a
        task scheduled in between must not pass :meth:`check_blocked`)."""
        wait = err.retry_after_s
        if wait is None:
            wait = FALLBACK_RETRY_AFTER_418_S if err.banned else FALLBACK_RETRY_AFTER_429_S
            err.retry_after_s = wait
        # Keep the longest back-off: answers to concurrent requests arrive in any
        # order, and a short injected 429 read after a 418 must not lift the ban.
        until = trio.current_time() + wait
        if self._blocked_until is None or until > self._blocked_until:
            self._blocked_until = until
        if self._on_blocked is not None:
            # +1: the ms clock truncates; end no earlier than ``_blocked_until``.
            self._on_blocked(self._clock_ms() + 1 + math.ceil(wait * 1000), err.banned)

    def check_blocked(self) -> None:
        """Raise RateLimited (nothing sent) while a 429/418 back-off is in force."""
        self._check_blocked()

    def _check_blocked(self) -> None:
        if self._blocked_until is None:
            return
        left = self._blocked_until - trio.current_time()
        if left > 0:
            raise RateLimited(
                f"rate-limit back-off in force for {left:.1f} s more; request not sent",
                retry_after_s=left,
            )
        self._blocked_until = None

    async def _on_transport_event(self, event: str, info: dict[str, Any]) -> None:
        # httpcore's trace hook, called just before the request's first byte is written. A
        # request can wait in the connection pool while another one's 429 arrives: checking
        # only when the request starts would then send it into the back-off (and a 418).
        if event.endswith(".send_request_headers.started"):
            self._check_blocked()

    def _feed_headers(self, headers: httpx.Headers) -> None:
        if self.on_usage is not None:
            self.on_usage(
                usage_from_headers(
                    _header_int(headers, "x-mbx-used-weight-1m"),
                    _header_int(headers, "x-mbx-order-count-10s"),
                    _header_int(headers, "x-mbx-order-count-1m"),
                )
            )

    def _target(self, path: str, params: Params, signed: bool) -> str:
        if signed:
            if self._signer is None:
                raise ConfigError(f"{path} needs an API key and secret; none configured")
            full = [
                *params,
                ("recvWindow", self._recv_window),
                ("timestamp", str(self.timestamp_ms())),
            ]
            return f"{path}?{self._signer.sign_query(encode_params(full))}"
        return f"{path}?{encode_params(params)}" if params else path

    async def _request(
        self,
        method: str,
        path: str,
        params: Params,
        *,
        signed: bool = False,
        keyed: bool = False,
        mutates: bool = False,
    ) -> Any:
        """One request; a failed read is tried again when ``on_read_retry`` is set."""
        while True:
            try:
                return await self._request_once(
                    method, path, params, signed=signed, keyed=keyed, mutates=mutates
                )
            except (RateLimited, OutcomeUnknownError, ConnectionFailed, ClockSkewError) as exc:
                if mutates or not await self._wait_out(exc):
                    raise

    async def _request_once(
        self,
        method: str,
        path: str,
        params: Params,
        *,
        signed: bool,
        keyed: bool,
        mutates: bool,
    ) -> Any:
        """Send once (twice for a non-mutating request on a transport error); decode JSON."""
        if keyed and self._signer is None:
            raise ConfigError(f"{path} needs an API key; none configured")
        attempts = 1 if mutates else 2
        for attempt in range(1, attempts + 1):
            self._check_blocked()
            # Everything travels in the query string (body empty): the signed bytes are then
            # exactly the bytes of the request line, with no form-encoding ambiguity.
            target = self._target(path, params, signed)
            try:
                resp = await self._client.request(
                    method, target, extensions={"trace": self._on_transport_event}
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if attempt < attempts:
                    continue
                raise ConnectionFailed(
                    f"{method} {path} was not sent: {type(exc).__name__}"
                ) from exc
            except httpx.TransportError as exc:
                if attempt < attempts:
                    continue
                raise OutcomeUnknownError(
                    f"{method} {path}: {type(exc).__name__} after the request was sent"
                ) from exc
            self._feed_headers(resp.headers)
            if resp.status_code == 200:
                try:
                    return loads(resp.content, f"{method} {path} answer")
                except ProtocolError as exc:
                    if not mutates:
                        raise
                    # It succeeded, but we cannot read what it did: resolve by query.
                    msg = f"{method} {path} succeeded but its answer is unreadable: {exc}"
                    raise OutcomeUnknownError(msg, status=200) from exc
            try:
                body = loads(resp.content)
            except ProtocolError:
                body = None
            err = cr.parse_error_body(resp.status_code, body, resp.headers.get("retry-after"))
            await self.note_error(err)
            raise err
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
