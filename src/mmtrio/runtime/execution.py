"""Execution: the core's commands → venue requests → exactly one outcome event each.

Why it is shaped this way:

- **Stale quotes are worse than none.** A place/amend that cannot leave now (no rate budget,
  breaker open, too many requests in flight) is refused at once with a local rejection
  (reject kind LOCAL) instead of being queued: by the time a queue drained, the price would
  be stale.
  The strategy decides again on its next step.
- **Cancels are never starved.** Cancels, cancel-all and queries may use the hard rate
  limit (the core's RateBudget keeps 20 % for them) and wait for budget or an in-flight
  slot instead of being refused; an open breaker does not stop them (they only reduce risk).
- **Unknown is not failed.** A place whose answer is lost (5xx, timeout) is reported
  OutcomeUnknown and never resubmitted here; the strategy resolves it with QueryOrder.
  Only idempotent requests (query, cancel-all, open orders) are retried.
- **One client id, one request at a time.** A cancel sent while its order's place is still
  in flight could reach the venue first, be answered "unknown order" and leave the order resting
  unowned; so requests for the same client id are serialised.
- **A rate-limit answer is obeyed.** Retry-After blocks the budget; nothing is sent before
  it expires.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import TypeVar

import trio
from loguru import logger

from mmtrio.core.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    PlaceOrder,
    QueryOrder,
)
from mmtrio.core.events import (
    AmendAccepted,
    AmendRejected,
    CancelAccepted,
    CancelRejected,
    Event,
    OrderNotFound,
    OrderUpdate,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
)
from mmtrio.core.instruments import Instrument
from mmtrio.core.ratelimit import RateBudget, RequestCost
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import (
    ClockSkewError,
    ConfigError,
    ConnectionFailed,
    MmtrioError,
    OutcomeUnknownError,
    ParameterError,
    RateLimited,
    VenueError,
)
from mmtrio.runtime import probe
from mmtrio.runtime.backoffs import Backoffs
from mmtrio.runtime.breaker import BreakerState, CircuitBreaker
from mmtrio.runtime.cancel_confirm import cancel_all_and_confirm
from mmtrio.runtime.in_doubt import watch_late_landings
from mmtrio.runtime.inbox import Sender
from mmtrio.runtime.pace_tier import tiered
from mmtrio.venues.protocol import REQUEST_PAID, Gateway, RequestCosts

T = TypeVar("T")

LATENCY_WINDOW = 1024  # bounded latency sample for p50/p99
IDEMPOTENT_ATTEMPTS = 3
RETRY_BACKOFF_S = 0.25


def _is_venue_failure(exc: BaseException) -> bool:
    """Venue trouble that should trip the breaker (not a rejection of our request)."""
    return isinstance(exc, OutcomeUnknownError | ConnectionFailed)


PACE_MAX_WAIT_MS = 2_000  # a paced request waits this long for the budget, at most


class Execution:
    """Sends the core's commands through a Gateway; answers each with one outcome event."""

    def __init__(  # noqa: PLR0917 - the documented constructor
        self,
        gateway: Gateway,
        instrument: Instrument,
        budget: RateBudget,
        breaker: CircuitBreaker,
        events_out: Sender,
        clock_ms: Callable[[], int],
        max_in_flight: int = 8,
        *,
        costs: RequestCosts,
    ) -> None:
        if (
            isinstance(max_in_flight, bool)
            or not isinstance(max_in_flight, int)
            or max_in_flight < 1
        ):
            raise ConfigError(f"max_in_flight must be an integer >= 1, got {max_in_flight!r}")
        self.gateway = gateway
        self.costs = costs
        self.instrument = instrument
        self.budget = budget
        self.breaker = breaker
        self.events_out = events_out
        self.clock_ms = clock_ms
        self.max_in_flight = max_in_flight
        self._slots = trio.Semaphore(max_in_flight)
        self._busy: dict[str, trio.Event] = {}
        self._latency_us: deque[int] = deque(maxlen=LATENCY_WINDOW)
        self.requests = 0
        self.failures = 0
        self.local_rejects = 0
        self.unknown_outcomes = 0
        self.rate_limited = 0
        self.clock_rejects = 0  # refused for a timestamp outside the venue's window
        # Told of each such refusal (the engine: re-measure the clock offset now, count it).
        self.on_clock_skew: Callable[[], None] | None = None
        # Back-offs for the metrics (runtime/backoffs.py): the surface binds the bot's.
        self.backoffs: Backoffs | None = None

    # --- wiring -------------------------------------------------------------------------
    async def pace(self, cost: RequestCost) -> None:
        """A request outside this layer (a connector's reads, its dead-man refresh): wait
        until ``cost`` fits the budget and reserve it (``PacedRequests``). A wait longer than
        ``PACE_MAX_WAIT_MS`` (a 429's back-off, a window spent until its end) raises
        RateLimited at once, nothing sent, as a back-off always did for these callers: the
        reconciler postpones its pass, the dead-man refresh tries again, a stop's disarm does
        not sit out its deadline. In the tier its sender gives it (:mod:`.pace_tier`)."""
        cost = tiered(cost)
        wait = self.budget.wait_ms(cost, self.clock_ms())
        if wait > PACE_MAX_WAIT_MS:
            if self.backoffs is not None:
                self.backoffs.budget_refused()
            raise RateLimited(
                f"rate budget full for {wait / 1000:.1f} s more; request not sent",
                code="rate_budget",
                retry_after_s=wait / 1000,
            )
        await self._wait_budget(cost)

    def charge(self, cost: RequestCost, at_ms: int) -> None:
        """Book a request already sent at ``at_ms`` (the start-up's, before this existed)."""
        self.budget.charge(cost, self.clock_ms(), at_ms)

    def on_usage(self, usage: dict[str, int | None]) -> None:
        """The venue's reported usage of its limits (window name → count) feeds the budget."""
        self.budget.update_from_usage(usage, self.clock_ms())

    async def run(self, commands_in: trio.MemoryReceiveChannel[Command]) -> None:
        """Execute commands until the channel closes (then waits for requests in flight)."""
        # every request this task and its children send is paid for here (REQUEST_PAID)
        REQUEST_PAID.set(True)
        async with trio.open_nursery() as nursery:
            async for cmd in commands_in:
                if probe.ACTIVE is not None:  # latency probe (benchmarks/latency.py)
                    probe.ACTIVE.exec_begin(cmd)
                if isinstance(cmd, PlaceOrder | AmendOrder):
                    refusal = self._admit_order(cmd)
                    if refusal is not None:
                        self.local_rejects += 1
                        await self.events_out.send(refusal)
                        continue
                    nursery.start_soon(self._run_order, cmd)
                else:
                    nursery.start_soon(self._run_priority, cmd)

    # --- admission ----------------------------------------------------------------------
    def _admit_order(self, cmd: PlaceOrder | AmendOrder) -> Event | None:
        """Reserve an in-flight slot, breaker pass and budget now, or return the refusal."""
        now = self.clock_ms()
        cost = self.costs.place if isinstance(cmd, PlaceOrder) else self.costs.amend
        reason: str | None = None
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            reason = f"{self.max_in_flight} requests already in flight; not queued (would be stale)"
        else:
            try:
                wait = self.budget.wait_ms(cost, now)
            except ParameterError as exc:  # the limits can never fit it (misconfiguration)
                wait, reason = 0, f"rate budget can never send it: {exc}"
            if reason is None and wait:
                reason = f"rate budget exhausted for {wait} ms; not queued (would be stale)"
                if self.backoffs is not None:
                    self.backoffs.budget_refused()
            elif reason is None and not self.breaker.allow(now):
                reason = self.breaker.refusal_reason(now)
            elif reason is None:
                self.budget.try_acquire(cost, now)  # cannot fail: wait_ms was 0 now
                return None
            self._slots.release()
        if isinstance(cmd, PlaceOrder):
            return PlaceRejected(cmd.client_id, RejectKind.LOCAL, "", reason, now)
        return AmendRejected(cmd.client_id, RejectKind.LOCAL, "", reason, now)

    async def _wait_budget(self, cost: RequestCost) -> None:
        """Sleep until ``cost`` fits the budget (a 429 block included), then reserve it."""
        with ExitStack() as held:
            waiting = False
            while True:
                now = self.clock_ms()
                wait = self.budget.wait_ms(cost, now)
                if wait == 0 and self.budget.try_acquire(cost, now):
                    return
                if self.backoffs is not None and not waiting:
                    held.enter_context(self.backoffs.budget_wait())  # once per request
                    waiting = True
                await trio.sleep(max(wait, 1) / 1000.0)

    async def _exclusive(self, client_id: str, fn: Callable[[], Awaitable[Event]]) -> Event:
        """Run ``fn`` with no other request for ``client_id`` in flight."""
        while (other := self._busy.get(client_id)) is not None:
            await other.wait()
        done = trio.Event()
        self._busy[client_id] = done
        try:
            return await fn()
        finally:
            del self._busy[client_id]
            done.set()

    # --- requests -----------------------------------------------------------------------
    async def _timed(self, call: Awaitable[T]) -> T:
        """Await one venue call, recording latency, counts, rate limits and the breaker."""
        self.requests += 1
        t0 = time.perf_counter_ns()
        try:
            result = await call
        except RateLimited as exc:
            self.rate_limited += 1
            # +1: clock_ms truncates to whole ms while the REST client times its back-off
            # from the exact moment the answer arrived; rounding up keeps the budget's end at
            # or after the client's, so a request that waited it out is never refused locally.
            now = self.clock_ms() + 1
            if exc.banned:
                self.budget.on_ban(now, exc.retry_after_s)
            else:
                # Status 0 is the client refusing locally: a back-off another caller (the
                # dead-man refresher, the reconciler) ran into. The budget learns it too, so
                # orders stop at the gateway instead of each being refused by the client.
                self.budget.on_retry_after(exc.retry_after_s, now)
            raise
        except VenueError as exc:
            if isinstance(exc, ClockSkewError):
                # Definite (the venue refused before processing), but our clock is off:
                # every signed request fails the same way until the offset is measured again.
                self.clock_rejects += 1
                if self.on_clock_skew is not None:
                    self.on_clock_skew()
            if _is_venue_failure(exc):
                self.failures += 1
                self.breaker.on_failure(self.clock_ms(), exc.msg)
            else:
                self.breaker.on_success(self.clock_ms())  # it answered: the venue is healthy
            raise
        finally:
            self._latency_us.append((time.perf_counter_ns() - t0) // 1000)
        self.breaker.on_success(self.clock_ms())
        return result

    async def _run_order(self, cmd: PlaceOrder | AmendOrder) -> None:
        try:
            event = await self._exclusive(cmd.client_id, lambda: self._order_outcome(cmd))
        finally:
            self._slots.release()
        await self.events_out.send(event)

    async def _order_outcome(self, cmd: PlaceOrder | AmendOrder) -> Event:
        op = "place" if isinstance(cmd, PlaceOrder) else "amend"
        try:
            if isinstance(cmd, PlaceOrder):
                ack = await self._timed(self.gateway.place(cmd))
                return PlaceAccepted(cmd.client_id, ack.order_id, self.clock_ms())
            await self._timed(self.gateway.amend(cmd))
            return AmendAccepted(cmd.client_id, cmd.price, cmd.qty, self.clock_ms())
        except VenueError as exc:
            return self._order_error(cmd, op, exc)
        except MmtrioError as exc:  # raised before sending (grid, id, config): not sent
            return self._rejected(cmd, RejectKind.LOCAL, "", f"not sent: {exc}")
        except Exception as exc:
            # We cannot know whether bytes left: treat as unknown, the query resolves it.
            logger.opt(exception=exc).error("{} {} failed unexpectedly", op, cmd.client_id)
            self.unknown_outcomes += 1
            return OutcomeUnknown(
                cmd.client_id, op, f"unexpected {type(exc).__name__}", self.clock_ms()
            )

    def _rejected(
        self, cmd: PlaceOrder | AmendOrder, kind: RejectKind, code: str, reason: str
    ) -> Event:
        if isinstance(cmd, PlaceOrder):
            return PlaceRejected(cmd.client_id, kind, code, reason, self.clock_ms())
        return AmendRejected(cmd.client_id, kind, code, reason, self.clock_ms())

    def _order_error(self, cmd: PlaceOrder | AmendOrder, op: str, exc: VenueError) -> Event:
        if not exc.definite:
            self.unknown_outcomes += 1
            logger.warning("{} {} outcome unknown: {}", op, cmd.client_id, exc.msg)
            return OutcomeUnknown(cmd.client_id, op, exc.msg, self.clock_ms())
        return self._rejected(cmd, exc.kind, exc.code, exc.msg)

    async def _run_priority(self, cmd: CancelOrder | CancelAll | QueryOrder) -> None:
        async with self._slots:
            if isinstance(cmd, CancelAll):
                # No per-order outcome exists for cancel-all: the user stream reports each
                # order's fate. Failure after retries is logged; the dead-man covers us.
                try:
                    await self._retrying(
                        self.costs.cancel_all, lambda: self.gateway.cancel_all(cmd.symbol)
                    )
                except (VenueError, MmtrioError) as exc:
                    logger.error("cancel-all {} failed after retries: {}", cmd.symbol, exc)
                return
            if isinstance(cmd, CancelOrder):
                event = await self._exclusive(cmd.client_id, lambda: self._cancel_outcome(cmd))
            else:
                event = await self._exclusive(cmd.client_id, lambda: self._query_outcome(cmd))
        await self.events_out.send(event)

    async def _cancel_outcome(self, cmd: CancelOrder) -> Event:
        await self._wait_budget(self.costs.cancel)
        try:
            await self._timed(self.gateway.cancel(cmd))
        except VenueError as exc:
            if not exc.definite:
                self.unknown_outcomes += 1
                return OutcomeUnknown(cmd.client_id, "cancel", exc.msg, self.clock_ms())
            return CancelRejected(cmd.client_id, exc.kind, exc.code, exc.msg, self.clock_ms())
        except MmtrioError as exc:
            return CancelRejected(
                cmd.client_id, RejectKind.LOCAL, "", f"not sent: {exc}", self.clock_ms()
            )
        return CancelAccepted(cmd.client_id, self.clock_ms())

    async def _query_outcome(self, cmd: QueryOrder) -> Event:
        # Decision: a query that keeps failing is answered OutcomeUnknown(operation="query")
        # so the strategy knows to ask again later (there is no other failure event).
        try:
            update = await self._retrying(
                self.costs.query, lambda: self.gateway.query(cmd.symbol, cmd.client_id)
            )
        except (VenueError, MmtrioError) as exc:
            return OutcomeUnknown(cmd.client_id, "query", str(exc), self.clock_ms())
        if update is None:
            return OrderNotFound(cmd.client_id, self.clock_ms())
        return update

    async def _retrying(self, cost: RequestCost, fn: Callable[[], Awaitable[T]]) -> T:
        """An idempotent request: retried on unknown outcome, transport failure, 429 or a
        timestamp outside the venue's window (the venue client re-measured its offset)."""
        for attempt in range(1, IDEMPOTENT_ATTEMPTS + 1):
            await self._wait_budget(cost)  # a 429 block makes this wait out Retry-After
            try:
                return await self._timed(fn())
            except VenueError as exc:
                retryable = (
                    isinstance(exc, RateLimited | ClockSkewError)
                    or not exc.definite
                    or _is_venue_failure(exc)
                )
                if not retryable or attempt == IDEMPOTENT_ATTEMPTS:
                    raise
                if isinstance(exc, RateLimited) and exc.banned:
                    raise  # a 418: stop, do not extend the ban
                await trio.sleep(RETRY_BACKOFF_S * attempt)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    # --- shutdown / kill ----------------------------------------------------------------
    async def cancel_all_and_confirm(
        self, symbol: str, deadline_s: float, before_send: Callable[[], None] | None = None
    ) -> int:
        """Cancel everything and confirm with openOrders until none is open or the deadline.

        Returns the number of orders still open at the last successful look (0 = clean),
        or -1 when the venue never answered openOrders before the deadline. Shielded:
        a second Ctrl-C must not skip the cleanup.
        """
        paid = REQUEST_PAID.set(True)  # the cancel-all and its confirmations are paid below
        try:
            return await self._cancel_all_and_confirm(symbol, deadline_s, before_send)
        finally:
            REQUEST_PAID.reset(paid)

    async def _cancel_all_and_confirm(
        self, symbol: str, deadline_s: float, before_send: Callable[[], None] | None
    ) -> int:
        cancel, look = self._stop_calls(symbol)
        return await cancel_all_and_confirm(cancel, look, symbol, deadline_s, before_send)

    async def watch_late_landings(
        self, symbol: str, until_ms: int, ids: list[str], ends: float
    ) -> bool:
        """After the stop's confirmation: watch for a request in doubt landing late
        (:mod:`mmtrio.runtime.in_doubt`); True when its window passed with nothing open."""
        cancel, look = self._stop_calls(symbol)
        return await watch_late_landings(until_ms, ids, self.clock_ms, ends, cancel, look)

    def _stop_calls(
        self, symbol: str
    ) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[list[OrderUpdate]]]]:
        # the stop may use the last share of each window the others leave (STOP_RESERVE)
        async def cancel() -> None:
            await self._wait_budget(self.costs.cancel_all.for_stop())
            await self._timed(self.gateway.cancel_all(symbol))

        async def look() -> list[OrderUpdate]:
            await self._wait_budget(self.costs.open_orders.for_stop())
            return await self._timed(self.gateway.open_orders(symbol))

        return cancel, look

    # --- status -------------------------------------------------------------------------
    def stats(self) -> dict[str, object]:
        """Counters, REST latency p50/p99 (µs, bounded window), budget usage, breaker state."""
        now = self.clock_ms()
        lat = sorted(self._latency_us)

        def pct(p: float) -> int | None:
            return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else None

        st = self.breaker.status(now)
        return {
            "requests": self.requests,
            "failures": self.failures,
            "local_rejects": self.local_rejects,
            "unknown_outcomes": self.unknown_outcomes,
            "rate_limited": self.rate_limited,
            "clock_rejects": self.clock_rejects,
            "in_flight": self.max_in_flight - self._slots.value,
            "latency_p50_us": pct(0.50),
            "latency_p99_us": pct(0.99),
            "budget": self.budget.usage(now),
            "breaker": st.state.value,
            "breaker_reason": st.reason,
            "quoting_halted": st.state is not BreakerState.CLOSED,
        }
