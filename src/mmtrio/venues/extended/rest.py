"""ExtendedRest: Extended's REST API (``/api/v1``) on httpx, for one account.

Rules this client enforces (the same as the Binance client's, for the same reasons):

* It never retries a request that changes state (place, cancel, mass cancel): a retry of a
  request whose first copy may have executed can double an order. Reads and the dead-man
  refresh (idempotent) are tried twice on a transport error.
* An answer that does not say whether the request executed (5xx, a timeout or a dropped
  connection after the request was written) raises OutcomeUnknownError; the caller resolves
  it by querying the order's external id.
* After a 429 it sends nothing until ``Retry-After`` (or a whole minute, Extended's window)
  has passed, and tells ``on_blocked`` so a restart honours it too.
* Every request carries ``X-Api-Key`` and a ``User-Agent`` (Extended requires both). The key
  never appears in an error message or ``repr``.

Extended publishes no server-time endpoint; :meth:`sync_time` reads the HTTP ``Date`` header
(whole seconds) of a markets request, which is all order expiry needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx
import trio

from mmtrio import __version__
from mmtrio.core.clock_offset import ClockReading
from mmtrio.errors import (
    ConfigError,
    ConnectionFailed,
    OutcomeUnknownError,
    ProtocolError,
    RateLimited,
    VenueError,
)
from mmtrio.venues.extended import codec
from mmtrio.venues.extended.clock import NARROW_READS, DateClock
from mmtrio.venues.extended.errors import CODE_NOT_FOUND, classify, code_text
from mmtrio.venues.extended.fields import loads
from mmtrio.venues.patience import PatientReads, ReadPatience
from mmtrio.venues.timeouts import DEFAULT_TIMEOUT

__all__ = ["API", "ExtendedRest"]

API = "/api/v1"
USER_AGENT = f"mmtrio/{__version__}"
DEFAULT_LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=55)
FALLBACK_RETRY_AFTER_S = 60.0
TRADES_PAGE = 100


class ExtendedRest(PatientReads):
    """Async REST client for one Extended endpoint (mainnet, Sepolia or the simulated venue)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        clock_ms: Callable[[], int],
        on_blocked: Callable[[int, bool], None] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"REST base URL {base_url!r} must start with http:// or https://")
        if not api_key:
            raise ConfigError("Extended needs an API key (MMTRIO_API_KEY or venue.api_key_file)")
        self._clock_ms = clock_ms
        self._on_blocked = on_blocked
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + API,
            headers={"X-Api-Key": api_key, "User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=timeout,
            limits=DEFAULT_LIMITS,
            transport=transport,
        )
        self.time_offset_ms = 0
        self._date_clock = DateClock()
        self._blocked_until: float | None = None
        # on_read_retry, and start-up's longer reads (venues/patience)
        self._patience = ReadPatience(self._client, FALLBACK_RETRY_AFTER_S)
        self.requests = 0

    def __repr__(self) -> str:
        return f"ExtendedRest({str(self._client.base_url)!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    def timestamp_ms(self) -> int:
        return self._clock_ms() + self.time_offset_ms

    # --- reads ----------------------------------------------------------------------------
    async def market(self, symbol: str) -> codec.MarketInfo:
        return codec.parse_market(await self._get("/info/markets", {"market": symbol}), symbol)

    async def sync_time(self, symbol: str) -> ClockReading:
        """Offset (ms, venue − local) from ``Date`` headers; unchanged when there is none.

        A failed request is tried again like any read while ``on_read_retry`` is set (start-up;
        chaos seed 1804: a connection reset on this first request crashed a restarting bot).
        Then up to ``NARROW_READS`` more, each at the estimated turn of the venue's second
        (whole seconds: :mod:`.clock`); a failed one leaves the estimate as it is. The
        reading's uncertainty is half the window the reads leave (``DateClock``): a slow
        answer widens its own window and so narrows nothing, which is how this venue's sync
        discards slow samples (the others': ``venues/clock_sync.py``).
        """
        rtts: list[int] = []
        if not await self._read_date(symbol, rtts, patient=True):
            return ClockReading(self.time_offset_ms, None, 0, 0, None)
        for _ in range(NARROW_READS):
            wait_ms = self._date_clock.wait_to_narrow(self._clock_ms())
            if wait_ms is None:
                break
            await trio.sleep(wait_ms / 1000)
            try:
                await self._read_date(symbol, rtts, patient=False)
            except (RateLimited, OutcomeUnknownError, ConnectionFailed):
                break
        return ClockReading(
            self.time_offset_ms, self._date_clock.uncertainty_ms, len(rtts), 0, min(rtts)
        )

    async def _read_date(self, symbol: str, rtts: list[int], *, patient: bool) -> bool:
        """One timed read of the ``Date`` header into the clock; False when it had none."""
        while True:
            t0 = self._clock_ms()
            try:
                resp = await self._send("GET", "/info/markets", params={"market": symbol})
                t1 = self._clock_ms()
                # The answer is judged like any other first: a 429 carries a Date header
                # too, and taking its time without its Retry-After let the next request land
                # inside the back-off (process chaos seed 51003 on Extended: a narrowing read
                # drew an injected 429 at start-up, and the next read, 0.5 s later, was
                # banned for 120 s). At start-up it is waited out, as any read's.
                self._data(resp, "GET", "/info/markets", False)
            except (RateLimited, OutcomeUnknownError, ConnectionFailed) as exc:
                if not patient or not await self._wait_out(exc):
                    raise
                continue
            break
        date = resp.headers.get("date")
        if date is None:
            return False
        try:
            date_ms = int(parsedate_to_datetime(date).timestamp() * 1000)
        except (TypeError, ValueError):
            raise ProtocolError(f"markets answer: unreadable Date header {date!r}") from None
        rtts.append(max(0, t1 - t0))
        self.time_offset_ms = self._date_clock.read(date_ms, t0, t1)  # whole seconds: clock.py
        return True

    async def fees(self, symbol: str) -> Any:
        return await self._get("/user/fees", {"market": symbol})

    async def account_info(self) -> Any:
        return await self._get("/user/account/info", None)

    async def balance(self) -> Any:
        return await self._get("/user/balance", None)

    async def positions(self, symbol: str) -> Any:
        return await self._get("/user/positions", {"market": symbol})

    async def open_orders(self, symbol: str) -> Any:
        return await self._get("/user/orders", {"market": symbol})

    async def orders_by_external_id(self, external_id: str) -> Any:
        """Every order with this external id (``[]`` when Extended has none)."""
        try:
            return await self._get(f"/user/orders/external/{quote(external_id, safe='')}", None)
        except VenueError as exc:
            if exc.definite and (exc.status == 404 or exc.code == CODE_NOT_FOUND):
                return []
            raise

    async def trades(self, symbol: str, cursor: int | None, limit: int = TRADES_PAGE) -> Any:
        params: dict[str, str | int] = {"market": symbol, "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return await self._get("/user/trades", params)

    # --- changes --------------------------------------------------------------------------
    async def place_order(self, body: dict[str, Any]) -> tuple[int, str]:
        data = await self._call("POST", "/user/order", json=body, mutates=True)
        try:
            return codec.parse_placed(data)
        except ProtocolError as exc:
            raise OutcomeUnknownError(
                f"place succeeded but its answer is unreadable: {exc}"
            ) from exc

    async def cancel_by_external_id(self, external_id: str) -> None:
        await self._call("DELETE", "/user/order", params={"externalId": external_id}, mutates=True)

    async def mass_cancel(self, symbol: str) -> None:
        await self._call("POST", "/user/order/massCancel", json={"markets": [symbol]}, mutates=True)

    async def deadman(self, countdown_s: int) -> None:
        """Arm the account's dead-man switch (0 disarms); re-arming is idempotent."""
        if countdown_s < 0:
            raise ConfigError(f"countdownTime must be >= 0 s, got {countdown_s}")
        await self._call("POST", "/user/deadmanswitch", params={"countdownTime": countdown_s})

    # --- transport ------------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, str | int] | None) -> Any:
        return await self._call("GET", path, params=params)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json: Any = None,
        mutates: bool = False,
    ) -> Any:
        """One request, its ``data``; a failed read is tried again when ``on_read_retry`` is set."""
        while True:
            try:
                resp = await self._send(method, path, params=params, json=json, mutates=mutates)
                return self._data(resp, method, path, mutates)
            except (RateLimited, OutcomeUnknownError, ConnectionFailed) as exc:
                if mutates or not await self._wait_out(exc):
                    raise

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

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json: Any = None,
        mutates: bool = False,
    ) -> httpx.Response:
        attempts = 1 if mutates else 2
        for attempt in range(1, attempts + 1):
            self._check_blocked()
            self.requests += 1
            try:
                return await self._client.request(method, path, params=params, json=json)
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
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _data(self, resp: httpx.Response, method: str, path: str, mutates: bool) -> Any:
        what = f"{method} {path}"
        try:
            body = loads(resp.content, f"{what} answer") if resp.content else None
        except ProtocolError:
            if resp.status_code == 200 and mutates:
                raise OutcomeUnknownError(f"{what} succeeded but its answer is not JSON") from None
            if resp.status_code == 200:
                raise
            body = None
        if resp.status_code == 200 and isinstance(body, dict) and body.get("status") == "OK":
            return body.get("data")
        err = body.get("error") if isinstance(body, dict) else None
        code = code_text(err.get("code")) if isinstance(err, dict) else ""
        msg = str(err.get("message", "")) if isinstance(err, dict) else ""
        status = resp.status_code
        if status == 200:
            if not isinstance(body, dict) or body.get("status") not in ("ERROR", "error"):
                if mutates:
                    raise OutcomeUnknownError(f"{what} answered an unexpected body {body!r:.200}")
                raise ProtocolError(f"{what}: unexpected answer {body!r:.200}")
            status = 400  # an error inside a 200: a definite rejection
        error = classify(status, code, msg or f"{what} failed", resp.headers.get("retry-after"))
        if isinstance(error, RateLimited):
            wait = error.retry_after_s
            if wait is None:
                wait = FALLBACK_RETRY_AFTER_S
                error.retry_after_s = wait
            until = trio.current_time() + wait
            if self._blocked_until is None or until > self._blocked_until:
                self._blocked_until = until
            if self._on_blocked is not None:
                self._on_blocked(self._clock_ms() + 1 + math.ceil(wait * 1000), error.banned)
        raise error
