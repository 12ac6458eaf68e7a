"""The Hyperliquid REST client on httpx: ``POST /info`` (reads) and ``POST /exchange`` (signed
actions). Used for every read and as the fallback for order entry when the websocket
``post`` path is down (:mod:`.wsorders`).

Rules this client enforces, as the Binance client does (:mod:`mmtrio.venues.binance.rest`):

* It never retries an ``/exchange`` request: a retry of an action whose first copy may have
  executed can double an order (and its nonce is spent anyway). ``/info`` reads are retried
  once on a transport error, and, while ``on_read_retry`` is set (start-up), again after a
  back-off.
* An answer that does not say whether an action executed (5xx, a timeout or a dropped
  connection after the request was written, an unreadable 200) raises OutcomeUnknownError;
  the caller resolves it by querying the cloid.
* Every ``/info`` read the execution layer did not pay for (``REQUEST_PAID``) is paced
  through the execution's rate budget once the runtime attached it (:meth:`pace_with`): its
  weight is reserved before it leaves (essential: reads may use the whole IP weight, quotes
  only their margin of it). Reads sent before that (the start-up's) are remembered and
  booked into the budget when it is attached. Hyperliquid reports no usage, so a read the
  budget does not see is weight it cannot plan for (chaos seeds 2001, 2018, 2019: the
  reconciliation's reads and the orders together went over 1,200 a minute, a 429 outlasted
  the stop's deadline).
* After a 429 nothing is sent until the back-off has passed (Hyperliquid documents no
  ``Retry-After``; a missing one waits ``FALLBACK_RETRY_AFTER_429_S``), and the back-off is
  reported through ``on_blocked`` so a restarted process honours it too.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import trio

from mmtrio.core.ratelimit import RequestCost
from mmtrio.errors import (
    ConfigError,
    ConnectionFailed,
    OutcomeUnknownError,
    ProtocolError,
    RateLimited,
)
from mmtrio.venues.hyperliquid.codec import dumps, loads
from mmtrio.venues.hyperliquid.costs import WEIGHT, info_extra_weight, info_weight
from mmtrio.venues.hyperliquid.errors import http_error
from mmtrio.venues.patience import PatientReads, ReadPatience
from mmtrio.venues.protocol import REQUEST_PAID
from mmtrio.venues.timeouts import DEFAULT_TIMEOUT

DEFAULT_LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=55)
FALLBACK_RETRY_AFTER_429_S = 10.0
_HEADERS = {"Content-Type": "application/json"}


class HyperliquidRest(PatientReads):
    """Async client for one Hyperliquid API base URL (mainnet, testnet or the simulated venue)."""

    def __init__(
        self,
        base_url: str,
        *,
        clock_ms: Callable[[], int],
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
        on_blocked: Callable[[int, bool], None] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"REST base URL {base_url!r} must start with http:// or https://")
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=_HEADERS,
            timeout=timeout,
            limits=limits,
            transport=transport,
        )
        self._clock_ms = clock_ms
        self._on_blocked = on_blocked
        self._blocked_until: float | None = None  # trio clock, after a 429
        # on_read_retry, and start-up's longer reads (venues/patience)
        self._patience = ReadPatience(self._client, FALLBACK_RETRY_AFTER_429_S)
        self.requests = 0
        self.pace: Callable[[RequestCost], Awaitable[None]] | None = None
        self._charge: Callable[[RequestCost, int], None] | None = None
        self._unpaced: list[tuple[int, RequestCost]] = []  # (ms, cost) sent before pacing

    def pace_with(
        self,
        pace: Callable[[RequestCost], Awaitable[None]],
        charge: Callable[[RequestCost, int], None],
    ) -> None:
        """Pace unpaid requests through ``pace`` from now on; book those already sent."""
        for at_ms, cost in self._unpaced:
            charge(cost, at_ms)
        self._unpaced.clear()
        self.pace, self._charge = pace, charge

    def spent(self, cost: RequestCost) -> None:
        """Book weight already spent that no reservation covered (an answer's per-item
        weight, a read sent again after a transport error), whoever paid for the request."""
        if self._charge is None:
            self._unpaced.append((self._clock_ms(), cost))
        else:
            self._charge(cost, self._clock_ms())

    async def paid_for(self, cost: RequestCost) -> None:
        """Reserve ``cost`` in the budget unless the execution layer already did."""
        if REQUEST_PAID.get():
            return
        if self.pace is None:
            self._unpaced.append((self._clock_ms(), cost))
            return
        await self.pace(cost)

    async def aclose(self) -> None:
        await self._client.aclose()

    def __repr__(self) -> str:
        return f"HyperliquidRest({str(self._client.base_url)!r})"

    # --- the two endpoints ----------------------------------------------------------------
    async def info(self, payload: dict[str, Any]) -> Any:
        """``POST /info`` (a read: retried per the module docstring)."""
        return await self._info(payload, None)

    async def timed_info(self, payload: dict[str, Any]) -> tuple[Any, int, int]:
        """``info``, with the round trip (local ms: sent, answered) of the copy the venue
        answered, for a clock sync. The back-offs waited out, the budget's waits and the
        copies that failed before it are no part of that round trip: timed from the first
        attempt, a start-up read that met a silent link and three 429s spanned 12 s, its
        midpoint put our venue clock 6 s ahead, and every ``scheduleCancel`` was set that
        much later than the countdown (chaos seeds 21014, 21220, 21254: a foreign order
        still open 7.2 s after the SIGKILL, against a 6 s countdown)."""
        sent = [self._clock_ms()]

        def mark() -> None:
            sent[0] = self._clock_ms()

        answer = await self._info(payload, mark)
        return answer, sent[0], self._clock_ms()

    async def _info(self, payload: dict[str, Any], on_send: Callable[[], None] | None) -> Any:
        kind = payload.get("type")
        cost = RequestCost(((WEIGHT, info_weight(str(kind))),), essential=True)
        while True:
            try:
                # The budget's refusal (a full window) is waited out at start-up like the
                # venue's 429: outside the try, it crashed a restarted bot's start-up
                # reconciliation (Hyperliquid DST seed 13: four starts in a minute).
                await self.paid_for(cost)
                answer = await self._post(
                    "/info", payload, mutates=False, resent=cost, on_send=on_send
                )
            except (RateLimited, OutcomeUnknownError, ConnectionFailed) as exc:
                if not await self._wait_out(exc):
                    raise
                continue
            items = len(answer) if isinstance(answer, list) else 0
            extra = info_extra_weight(str(kind), items)
            if extra:
                self.spent(RequestCost(((WEIGHT, extra),), essential=True))
            return answer

    async def exchange(self, payload: dict[str, Any]) -> Any:
        """``POST /exchange`` with a signed action: sent once, never retried."""
        return await self._post("/exchange", payload, mutates=True)

    # --- transport ------------------------------------------------------------------------
    def check_blocked(self) -> None:
        """RateLimited (nothing sent) while a 429 back-off is in force."""
        if self._blocked_until is None:
            return
        left = self._blocked_until - trio.current_time()
        if left > 0:
            raise RateLimited(
                f"rate-limit back-off in force for {left:.1f} s more; request not sent",
                retry_after_s=left,
            )
        self._blocked_until = None

    def block(self, wait_s: float) -> None:
        """Hold every request for ``wait_s`` (a 429 here or on the websocket)."""
        until = trio.current_time() + wait_s
        if self._blocked_until is None or until > self._blocked_until:
            self._blocked_until = until
        if self._on_blocked is not None:
            # Hyperliquid documents no ban answer: a 429 only.
            self._on_blocked(self._clock_ms() + 1 + math.ceil(wait_s * 1000), False)

    async def _on_transport_event(self, event: str, info: dict[str, Any]) -> None:
        # Just before the first byte leaves: a request that waited in the pool while a 429
        # arrived must not be sent into the back-off.
        if event.endswith(".send_request_headers.started"):
            self.check_blocked()

    async def _post(
        self,
        path: str,
        payload: dict[str, Any],
        *,
        mutates: bool,
        resent: RequestCost | None = None,
        on_send: Callable[[], None] | None = None,
    ) -> Any:
        """One request; a read is sent once more after a transport error (``resent``: its
        cost, booked again when the first copy may have reached the venue). ``on_send`` is
        called as each copy leaves (its first byte, when the transport says so)."""
        attempts = 1 if mutates else 2
        content = dumps(payload)
        trace = self._on_transport_event
        if on_send is not None:
            sending = on_send

            async def trace(event: str, info: dict[str, Any]) -> None:
                await self._on_transport_event(event, info)
                if event.endswith(".send_request_headers.started"):
                    sending()  # after the connection (a TLS handshake is not venue time)

        for attempt in range(1, attempts + 1):
            self.check_blocked()
            self.requests += 1
            if on_send is not None:
                on_send()  # a transport that reports no events: sent about now
            try:
                resp = await self._client.post(path, content=content, extensions={"trace": trace})
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if attempt < attempts:
                    continue
                raise ConnectionFailed(f"POST {path} was not sent: {type(exc).__name__}") from exc
            except httpx.TransportError as exc:
                if attempt < attempts:
                    if resent is not None:  # the first copy was sent: the venue counted it
                        self.spent(resent)
                    continue
                raise OutcomeUnknownError(
                    f"POST {path}: {type(exc).__name__} after the request was sent"
                ) from exc
            if resp.status_code == 200:
                try:
                    return loads(resp.content, f"POST {path} answer")
                except ProtocolError as exc:
                    if not mutates:
                        raise
                    raise OutcomeUnknownError(
                        f"POST {path} answered 200 but unreadably: {exc}", status=200
                    ) from exc
            err = http_error(
                resp.status_code,
                resp.content.decode("utf-8", "replace"),
                resp.headers.get("retry-after"),
            )
            if isinstance(err, RateLimited):
                if err.retry_after_s is None:
                    err.retry_after_s = FALLBACK_RETRY_AFTER_429_S
                self.block(err.retry_after_s)
            raise err
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
