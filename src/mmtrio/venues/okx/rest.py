"""OkxRest: the OKX v5 REST client on httpx (Trio via anyio).

The same rules as the Binance client, because the caller cannot apply them afterwards:

* It never retries a request that changes state (place, amend, cancel): a retry of a request
  whose first copy may have executed can double an order. Reads are retried once on a
  transport error; the dead-man refresh (idempotent) too.
* An answer that does not say whether the request executed (5xx, 50004 and the busy codes,
  a timeout or a dropped connection after the request was written) raises
  OutcomeUnknownError; the caller resolves it by querying the ``clOrdId``.
* After a rate-limit answer (HTTP 429 / 50011) it refuses to send to that endpoint for one
  OKX window (2 s, cancel-all-after's 1 s; OKX sends no Retry-After), checked again when
  the request's bytes are about to leave. OKX counts each endpoint on its own (place 60 per
  2 s, positions 10 per 2 s, cancel-all-after 1 per second, ...), so a 429 on one says
  nothing about the others: a dead-man refresh refused must not block the cancel-all of a
  shutdown. The order operations (place, amend, cancel and their batches, REST or
  WebSocket) are one group: they also share the sub-account's order-rate limit, so a 429 on
  any of them holds them all.
* Signed requests carry ``OK-ACCESS-TIMESTAMP`` = local clock + the offset measured against
  ``GET /api/v5/public/time`` (OKX refuses a timestamp 30 s off: 50102); a 50102 resyncs
  the offset before it is raised.
* Demo trading (``mode = "testnet"``) adds ``x-simulated-trading: 1`` to every request.
  The header is what separates demo from live on OKX's one REST host, so it follows the
  mode, never a URL.

GET parameters go in the query string, which is part of the signed path; POST bodies are
serialised once with orjson and signed as sent.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import orjson
import trio

from mmtrio.core.clock_offset import ClockReading, ClockSample
from mmtrio.errors import (
    ClockSkewError,
    ConfigError,
    ConnectionFailed,
    OutcomeUnknownError,
    ProtocolError,
    RateLimited,
    VenueError,
)
from mmtrio.venues.clock_sync import sample_clock
from mmtrio.venues.okx import codec_rest as cr
from mmtrio.venues.okx.codec import loads
from mmtrio.venues.okx.errors import CODE_NO_SUCH_ORDER, RATE_LIMIT_RETRY_S, classify
from mmtrio.venues.okx.signing import DEMO_HEADER, Signer, iso_timestamp
from mmtrio.venues.patience import PatientReads, ReadPatience
from mmtrio.venues.timeouts import DEFAULT_TIMEOUT

Params = list[tuple[str, str]]
Body = dict[str, str] | list[dict[str, str]]

DEFAULT_LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=55)
BATCH_MAX = 20
PAGE = 100  # OKX's page size for orders-pending and fills
# The order operations' paths: one rate-limit group (module docstring); every other path is
# its own group.
ORDER_OPS = "/api/v5/trade/order"
ORDER_OP_PATHS = frozenset({
    ORDER_OPS,
    "/api/v5/trade/batch-orders",
    "/api/v5/trade/amend-order",
    "/api/v5/trade/amend-batch-orders",
    "/api/v5/trade/cancel-order",
    "/api/v5/trade/cancel-batch-orders",
})  # fmt: skip


def endpoint_group(method: str, path: str) -> str:
    """The rate-limit group of a request (its back-off is shared within the group); ``GET
    /trade/order`` (a query) is not ``POST /trade/order`` (a place)."""
    return "order operations" if method == "POST" and path in ORDER_OP_PATHS else f"{method} {path}"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _query(params: Params) -> str:
    # OKX ids, symbols and numbers need no escaping; the signed path is the query as sent.
    return "&".join(f"{k}={v}" for k, v in params)


class OkxRest(PatientReads):
    """Async REST client for one OKX endpoint (live, demo or the simulated venue)."""

    def __init__(
        self,
        base_url: str,
        *,
        signer: Signer | None = None,
        demo: bool = False,
        mode: str = "live",
        credentials_source: str = "",
        clock_ms: Callable[[], int] = wall_clock_ms,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
        on_blocked: Callable[[int, bool], None] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"REST base URL {base_url!r} must start with http:// or https://")
        self._signer = signer
        self._mode = mode
        self._source = credentials_source
        self._clock_ms = clock_ms
        self._on_blocked = on_blocked
        headers = {"Content-Type": "application/json"}
        if demo:
            headers[DEMO_HEADER[0]] = DEMO_HEADER[1]
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
        self._blocked_until: dict[str, float] = {}  # endpoint group -> Trio time
        # on_read_retry, and start-up's longer reads (venues/patience)
        self._patience = ReadPatience(self._client, RATE_LIMIT_RETRY_S)

    async def aclose(self) -> None:
        await self._client.aclose()

    def __repr__(self) -> str:
        return f"OkxRest(base_url={str(self._client.base_url)!r}, signer={self._signer!r})"

    # --- time ---------------------------------------------------------------------------
    def timestamp_ms(self) -> int:
        return self._clock_ms() + self.time_offset_ms

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
            t0 = self._clock_ms()
            try:
                data = await self._send_once("GET", "/api/v5/public/time", [], None, False, False)
            except (RateLimited, OutcomeUnknownError, ConnectionFailed, ClockSkewError) as exc:
                if not await self._wait_out(exc):
                    raise
                continue
            break
        return ClockSample(t0, cr.parse_server_time(data), self._clock_ms())

    # --- public -------------------------------------------------------------------------
    async def instrument(self, symbol: str) -> Any:
        data = await self.request(
            "GET", "/api/v5/public/instruments", [("instType", cr.INST_TYPE), ("instId", symbol)]
        )
        return cr.parse_instrument(data, symbol)

    # --- account ------------------------------------------------------------------------
    async def account_config(self) -> cr.AccountConfig:
        return cr.parse_account_config(
            await self.request("GET", "/api/v5/account/config", [], signed=True)
        )

    async def balance(self, ccy: str) -> cr.Balance:
        data = await self.request("GET", "/api/v5/account/balance", [("ccy", ccy)], signed=True)
        return cr.parse_balance(data, ccy)

    async def positions(self, symbol: str) -> list[Any]:
        return await self.request(
            "GET",
            "/api/v5/account/positions",
            [("instType", cr.INST_TYPE), ("instId", symbol)],
            signed=True,
        )

    async def leverage(self, symbol: str, mgn_mode: str) -> Decimal | None:
        """The account's leverage on ``symbol`` in margin mode ``mgn_mode`` (``cross``)."""
        data = await self.request(
            "GET",
            "/api/v5/account/leverage-info",
            [("instId", symbol), ("mgnMode", mgn_mode)],
            signed=True,
        )
        return cr.parse_leverage(data, symbol)

    # --- orders -------------------------------------------------------------------------
    async def order_op(self, path: str, body: Body) -> list[cr.OpAnswer]:
        """An order operation (place, amend, cancel, a batch); per-order answers."""
        data = await self.request("POST", path, [], body=body, signed=True, mutates=True)
        try:
            return cr.op_answers(data, path)
        except ProtocolError as exc:
            raise OutcomeUnknownError(
                f"{path} succeeded but its answer is unreadable: {exc}"
            ) from exc

    async def query_order(self, symbol: str, client_id: str) -> list[Any] | None:
        """The order's object (``data``), or None when OKX has no such order (51603)."""
        try:
            return await self.request(
                "GET",
                "/api/v5/trade/order",
                [("instId", symbol), ("clOrdId", client_id)],
                signed=True,
            )
        except VenueError as exc:
            if exc.definite and exc.code == CODE_NO_SUCH_ORDER:
                return None
            raise

    async def orders_pending(self, symbol: str, after: str | None = None) -> list[Any]:
        params = [("instType", cr.INST_TYPE), ("instId", symbol), ("limit", str(PAGE))]
        if after is not None:
            params.append(("after", after))
        return await self.request("GET", "/api/v5/trade/orders-pending", params, signed=True)

    async def fills(self, symbol: str, after_bill: int | None = None) -> list[Any]:
        """One page of our fills, newest first; ``after_bill``: older than that billId."""
        params = [("instType", cr.INST_TYPE), ("instId", symbol), ("limit", str(PAGE))]
        if after_bill is not None:
            params.append(("after", str(after_bill)))
        return await self.request("GET", "/api/v5/trade/fills", params, signed=True)

    async def cancel_all_after(self, seconds: int) -> None:
        """Arm (or with 0 disarm) OKX's dead-man switch. Re-arming is idempotent, so it is
        retried once on a transport error like a read."""
        await self.request(
            "POST",
            "/api/v5/trade/cancel-all-after",
            [],
            body={"timeOut": str(seconds)},
            signed=True,
        )

    # --- transport ----------------------------------------------------------------------
    def _check_blocked(self, group: str) -> None:
        until = self._blocked_until.get(group)
        if until is None:
            return
        left = until - trio.current_time()
        if left > 0:
            raise RateLimited(
                f"rate-limit back-off in force for {left:.1f} s more; request not sent",
                retry_after_s=left,
            )
        del self._blocked_until[group]

    async def _on_transport_event(self, group: str, event: str, info: dict[str, Any]) -> None:
        # Checked again just before the first byte leaves: a request that waited in the
        # pool while another one's 429 arrived must not be sent into the back-off.
        if event.endswith(".send_request_headers.started"):
            self._check_blocked(group)

    def block(self, seconds: float, method: str = "POST", path: str = ORDER_OPS) -> None:
        """Refuse requests of ``method path``'s endpoint group for ``seconds`` (a rate-limit
        answer, REST or WebSocket; the default is the order operations' group)."""
        group = endpoint_group(method, path)
        until = trio.current_time() + seconds
        if until > self._blocked_until.get(group, -math.inf):
            self._blocked_until[group] = until
        if self._on_blocked is not None:
            # OKX documents no ban answer: its rate-limit codes are back-offs only.
            self._on_blocked(self._clock_ms() + 1 + math.ceil(seconds * 1000), False)

    async def request(
        self,
        method: str,
        path: str,
        params: Params,
        *,
        body: Body | None = None,
        signed: bool = False,
        mutates: bool = False,
    ) -> list[Any]:
        """One request → its ``data``; a failed read is tried again when ``on_read_retry``
        is set. Order operations' per-order failures are in their answers, not raised."""
        while True:
            try:
                return await self._send_once(method, path, params, body, signed, mutates)
            except (RateLimited, OutcomeUnknownError, ConnectionFailed, ClockSkewError) as exc:
                if mutates or not await self._wait_out(exc):
                    raise

    def _headers(self, method: str, target: str, content: str, signed: bool) -> dict[str, str]:
        if not signed:
            return {}
        if self._signer is None:
            raise ConfigError(f"{target} needs an API key, secret and passphrase; none configured")
        stamp = iso_timestamp(self.timestamp_ms())
        return self._signer.rest_headers(stamp, method, target, content)

    async def _send_once(  # noqa: PLR0917 - one request's parts, passed once
        self,
        method: str,
        path: str,
        params: Params,
        body: Body | None,
        signed: bool,
        mutates: bool,
    ) -> list[Any]:
        attempts = 1 if mutates else 2
        target = f"{path}?{_query(params)}" if params else path
        content = orjson.dumps(body).decode() if body is not None else ""
        group = endpoint_group(method, path)
        trace = functools.partial(self._on_transport_event, group)
        for attempt in range(1, attempts + 1):
            self._check_blocked(group)
            headers = self._headers(method, target, content, signed)
            try:
                resp = await self._client.request(
                    method,
                    target,
                    content=content.encode() if content else None,
                    headers=headers,
                    extensions={"trace": trace},
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
            return await self._answer(resp, method, path, mutates)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    async def _answer(
        self, resp: httpx.Response, method: str, path: str, mutates: bool
    ) -> list[Any]:
        kind = f"{method} {path} answer"
        try:
            body = loads(resp.content, kind)
            code, msg, data = cr.envelope(body, kind)
        except ProtocolError as exc:
            if resp.status_code == 200:
                if mutates:  # it may have acted: resolve by query
                    raise OutcomeUnknownError(f"{kind} is unreadable: {exc}", status=200) from exc
                raise
            code, msg, data = "", f"HTTP {resp.status_code}", []
        if resp.status_code == 200 and code == "0":
            return data
        if resp.status_code == 200 and mutates and code in ("1", "2") and data:
            return data  # per-order results: the caller reads each sCode
        err = classify(
            resp.status_code, code or None, msg, mode=self._mode, source=self._source, path=path
        )
        if isinstance(err, RateLimited):
            wait = err.retry_after_s or RATE_LIMIT_RETRY_S
            self.block(wait, method, path)
        elif isinstance(err, ClockSkewError):
            try:
                await self.sync_time()
            except (VenueError, ProtocolError):
                self.time_sync_failures += 1
        raise err
