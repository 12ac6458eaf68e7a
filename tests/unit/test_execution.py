"""Execution against a scripted fake Gateway, in virtual time."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import trio

from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, Command, PlaceOrder, QueryOrder
from mmtrio.core.events import (
    AmendRejected,
    CancelAccepted,
    CancelRejected,
    Event,
    ExecType,
    Fill,
    OrderNotFound,
    OrderStatus,
    OrderUpdate,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
    Side,
    TimeInForce,
)
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.ratelimit import MINUTE_MS, RateBudget, RateLimits, RateWindow
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import ClockSkewError, OutcomeUnknownError, RateLimited, VenueError
from mmtrio.runtime.breaker import BreakerState, CircuitBreaker
from mmtrio.runtime.execution import Execution
from mmtrio.venues.binance.costs import (
    COSTS,
    DEFAULT_LIMITS,
    ORDERS_1M,
    ORDERS_10S,
    TEN_SECONDS_MS,
    WEIGHT,
)
from mmtrio.venues.protocol import Capabilities, OrderAck

SYM = "BTCUSDT"


def limits(weight_1m: int) -> RateLimits:
    return RateLimits(
        (
            RateWindow(WEIGHT, MINUTE_MS, weight_1m),
            RateWindow(ORDERS_10S, TEN_SECONDS_MS, 300),
            RateWindow(ORDERS_1M, MINUTE_MS, 1200),
        ),
        orders_per_minute=1200,
    )


def clock() -> int:
    return int(trio.current_time() * 1000)


def upd(cid: str) -> OrderUpdate:
    return OrderUpdate(
        SYM,
        cid,
        7,
        Side.BUY,
        ExecType.NEW,
        OrderStatus.NEW,
        100,
        1,
        0,
        TimeInForce.POST_ONLY,
        False,
        0,
    )


class FakeGateway:
    """Each op pops its next scripted behaviour (an exception to raise, or a value)."""

    capabilities = Capabilities(amend=True)

    def __init__(self) -> None:
        self.script: dict[str, list[Any]] = {}
        self.calls: list[tuple[str, float, Any]] = []
        self.open: list[list[OrderUpdate]] = []
        self.latency = 0.01

    async def _do(self, op: str, arg: Any, default: Any) -> Any:
        self.calls.append((op, trio.current_time(), arg))
        await trio.sleep(self.latency)
        cid = arg if op == "query" else getattr(arg, "client_id", None)
        todo = self.script.get(f"{op}:{cid}") or self.script.get(op)
        item = todo.pop(0) if todo else default
        if isinstance(item, BaseException):
            raise item
        return item

    def count(self, op: str) -> int:
        return sum(1 for c in self.calls if c[0] == op)

    async def place(self, cmd: PlaceOrder) -> OrderAck:
        return await self._do("place", cmd, OrderAck(cmd.client_id, 7, OrderStatus.NEW, 0))  # type: ignore[no-any-return]

    async def amend(self, cmd: AmendOrder) -> OrderAck:
        return await self._do("amend", cmd, OrderAck(cmd.client_id, 7, OrderStatus.NEW, 0))  # type: ignore[no-any-return]

    async def cancel(self, cmd: CancelOrder) -> None:
        await self._do("cancel", cmd, None)

    async def cancel_all(self, symbol: str) -> None:
        await self._do("cancel_all", symbol, None)

    async def query(self, symbol: str, client_id: str) -> OrderUpdate | None:
        return await self._do("query", client_id, upd(client_id))  # type: ignore[no-any-return]

    async def open_orders(self, symbol: str) -> list[OrderUpdate]:
        return await self._do("open_orders", symbol, self.open.pop(0) if self.open else [])  # type: ignore[no-any-return]

    async def position(self, symbol: str) -> tuple[int, Decimal]:
        return await self._do("position", symbol, (0, Decimal(0)))  # type: ignore[no-any-return]

    async def user_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        return await self._do("user_trades", from_id, [])  # type: ignore[no-any-return]

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        await self._do("arm_deadman", countdown_ms, None)


def place(cid: str) -> PlaceOrder:
    return PlaceOrder(cid, SYM, Side.BUY, 100_000, 10)


async def run_cmds(
    gw: FakeGateway,
    cmds: list[Command],
    *,
    budget: RateBudget | None = None,
    breaker: CircuitBreaker | None = None,
    gap_s: float = 0.0,
    max_in_flight: int = 32,
    setup: Callable[[Execution], object] | None = None,
) -> tuple[list[Event], Execution]:
    ev_send, ev_recv = trio.open_memory_channel[Event](1000)
    cmd_send, cmd_recv = trio.open_memory_channel[Command](1000)
    ex = Execution(
        gw,
        BTCUSDT,
        budget or RateBudget(DEFAULT_LIMITS),
        breaker or CircuitBreaker(),
        ev_send,
        clock,
        max_in_flight,
        costs=COSTS,
    )
    if setup is not None:
        setup(ex)
    async with trio.open_nursery() as n:
        n.start_soon(ex.run, cmd_recv)
        async with cmd_send:
            for c in cmds:
                await cmd_send.send(c)
                if gap_s:
                    await trio.sleep(gap_s)
    ev_send.close()
    return [e async for e in ev_recv], ex


async def test_exactly_one_outcome_per_command(autojump_clock: trio.testing.MockClock) -> None:
    gw = FakeGateway()
    gw.script = {
        "place:a": [OrderAck("a", 1, OrderStatus.NEW, 0)],
        "place:b": [
            VenueError("would take", kind=RejectKind.WOULD_CROSS, code="-5022", status=400)
        ],
        "amend": [OutcomeUnknownError("bus", code="-1006", status=503)],
        "cancel:e": [
            VenueError(
                "Unknown order sent.", kind=RejectKind.UNKNOWN_ORDER, code="-2011", status=400
            )
        ],
        "query:q2": [None],
    }
    cmds: list[Command] = [
        place("a"),
        place("b"),
        AmendOrder("c", SYM, Side.BUY, 100_001, 10),
        CancelOrder("d", SYM),
        CancelOrder("e", SYM),
        QueryOrder("q1", SYM),
        QueryOrder("q2", SYM),
    ]
    events, _ = await run_cmds(gw, cmds)
    by_cid = {getattr(e, "client_id", None): e for e in events}
    assert len(events) == len(cmds) == len(by_cid)
    assert isinstance(by_cid["a"], PlaceAccepted) and by_cid["a"].order_id == 1
    assert isinstance(by_cid["b"], PlaceRejected) and by_cid["b"].kind is RejectKind.WOULD_CROSS
    assert isinstance(by_cid["c"], OutcomeUnknown) and by_cid["c"].operation == "amend"
    assert isinstance(by_cid["d"], CancelAccepted)
    assert isinstance(by_cid["e"], CancelRejected) and by_cid["e"].kind is RejectKind.UNKNOWN_ORDER
    assert isinstance(by_cid["q1"], OrderUpdate)
    assert isinstance(by_cid["q2"], OrderNotFound)


async def test_unknown_place_is_never_resubmitted(autojump_clock: trio.testing.MockClock) -> None:
    gw = FakeGateway()
    gw.script = {
        "place": [OutcomeUnknownError("Execution status unknown.", code="-1006", status=503)]
    }
    events, ex = await run_cmds(gw, [place("x")])
    assert events == [OutcomeUnknown("x", "place", "Execution status unknown.", events[0].ts)]
    assert gw.count("place") == 1
    assert ex.stats()["unknown_outcomes"] == 1


async def test_budget_refusal_is_immediate_and_not_queued(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gw = FakeGateway()
    budget = RateBudget(limits(weight_1m=10))  # 8 for quotes
    t0 = trio.current_time()
    events, _ = await run_cmds(gw, [place(f"p{i}") for i in range(10)], budget=budget)
    rejected = [e for e in events if isinstance(e, PlaceRejected)]
    assert len(events) == 10 and len(rejected) == 2
    assert all(e.kind is RejectKind.LOCAL and "rate budget" in e.reason for e in rejected)
    assert gw.count("place") == 8
    assert all(e.ts == int(t0 * 1000) for e in rejected)  # answered at once, not after a wait


async def test_in_flight_bound_refuses_places_but_cancels_wait(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gw = FakeGateway()
    gw.latency = 1.0
    ev_send, ev_recv = trio.open_memory_channel[Event](100)
    cmd_send, cmd_recv = trio.open_memory_channel[Command](100)
    ex = Execution(
        gw,
        BTCUSDT,
        RateBudget(DEFAULT_LIMITS),
        CircuitBreaker(),
        ev_send,
        clock,
        max_in_flight=2,
        costs=COSTS,
    )
    async with trio.open_nursery() as n:
        n.start_soon(ex.run, cmd_recv)
        async with cmd_send:
            for c in (place("a"), place("b"), place("c"), CancelOrder("z", SYM)):
                await cmd_send.send(c)
    ev_send.close()
    events = {getattr(e, "client_id", None): e async for e in ev_recv}
    assert isinstance(events["c"], PlaceRejected) and "in flight" in events["c"].reason
    assert isinstance(events["z"], CancelAccepted)
    assert gw.count("place") == 2


async def test_retry_after_blocks_every_request_until_it_expires(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gw = FakeGateway()
    gw.script = {"place": [RateLimited("too many", code="-1003", status=429, retry_after_s=5.0)]}
    t0 = trio.current_time()
    events, ex = await run_cmds(gw, [place("a"), place("b"), CancelOrder("c", SYM)], gap_s=0.1)
    by_cid = {getattr(e, "client_id", None): e for e in events}
    assert isinstance(by_cid["a"], PlaceRejected) and by_cid["a"].kind is RejectKind.RATE_LIMITED
    assert (
        isinstance(by_cid["b"], PlaceRejected) and by_cid["b"].kind is RejectKind.LOCAL
    )  # refused locally
    assert isinstance(by_cid["c"], CancelAccepted)
    assert gw.count("place") == 1
    cancel_at = next(t for op, t, _ in gw.calls if op == "cancel")
    assert cancel_at >= t0 + 5.0
    assert ex.stats()["rate_limited"] == 1


async def test_back_off_in_whole_ms_never_ends_before_the_clients_own(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The REST client measures its back-off from the float time the 429 arrived; the budget
    # counts whole ms. Truncating "now" made the budget's end up to 1 ms early, so a cancel
    # waiting it out was refused locally by the client (found flaky in the sim 429 test).
    gw = FakeGateway()
    gw.latency = 0.0104  # the 429 lands at 10.4 ms
    gw.script = {"place": [RateLimited("too many", code="-1003", status=429, retry_after_s=5.0)]}
    t0 = trio.current_time()
    _, ex = await run_cmds(gw, [place("a"), CancelOrder("c", SYM)], gap_s=0.05)
    client_until = t0 + gw.latency + 5.0
    cancel_at = next(t for op, t, _ in gw.calls if op == "cancel")
    assert cancel_at >= client_until
    assert ex.stats()["rate_limited"] == 1


async def test_a_back_off_another_caller_drew_stops_orders_at_the_budget(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The REST client refuses locally (status 0) because the dead-man refresher drew a 418:
    # the budget learns the remaining wait, so the next order is not even handed to the client.
    gw = FakeGateway()
    refusal = RateLimited("back-off; not sent", code="-1003", retry_after_s=100.0)
    gw.script = {"place": [refusal]}
    events, _ = await run_cmds(gw, [place("a"), place("b")], gap_s=0.1)
    by_cid = {getattr(e, "client_id", None): e for e in events}
    assert isinstance(by_cid["a"], PlaceRejected) and by_cid["a"].kind is RejectKind.RATE_LIMITED
    assert isinstance(by_cid["b"], PlaceRejected) and by_cid["b"].kind is RejectKind.LOCAL
    assert "rate budget" in by_cid["b"].reason
    assert gw.count("place") == 1


async def test_breaker_opens_refuses_probes_and_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gw = FakeGateway()
    gw.script = {"place": [OutcomeUnknownError("503", status=503)] * 2}
    breaker = CircuitBreaker(threshold=2, probe_interval_ms=1000)
    ev_send, ev_recv = trio.open_memory_channel[Event](100)
    cmd_send, cmd_recv = trio.open_memory_channel[Command](100)
    ex = Execution(gw, BTCUSDT, RateBudget(DEFAULT_LIMITS), breaker, ev_send, clock, costs=COSTS)
    async with trio.open_nursery() as n:
        n.start_soon(ex.run, cmd_recv)
        async with cmd_send:
            for c in (place("a"), place("b")):
                await cmd_send.send(c)
                await trio.sleep(0.1)
            assert breaker.state(clock()) is BreakerState.OPEN
            await cmd_send.send(place("c"))
            await cmd_send.send(CancelOrder("d", SYM))
            await trio.sleep(0.1)
            assert ex.stats()["quoting_halted"] is True
            await trio.sleep(1.0)
            await cmd_send.send(place("e"))  # the probe
            await trio.sleep(0.1)
            assert breaker.state(clock()) is BreakerState.CLOSED
    ev_send.close()
    events = {getattr(e, "client_id", None): e async for e in ev_recv}
    assert isinstance(events["c"], PlaceRejected) and "circuit breaker" in events["c"].reason
    assert isinstance(events["d"], CancelAccepted)  # cancels still go while open
    assert isinstance(events["e"], PlaceAccepted)
    assert [c[2].client_id for c in gw.calls if c[0] == "place"] == ["a", "b", "e"]


async def test_definite_rejection_does_not_trip_the_breaker(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gw = FakeGateway()
    gw.script = {
        "place": [VenueError("post only", kind=RejectKind.WOULD_CROSS, code="-5022", status=400)]
        * 5
    }
    breaker = CircuitBreaker(threshold=2, probe_interval_ms=1000)
    events, _ = await run_cmds(gw, [place(f"p{i}") for i in range(5)], breaker=breaker)
    assert all(isinstance(e, PlaceRejected) and e.kind is RejectKind.WOULD_CROSS for e in events)
    assert breaker.state(clock()) is BreakerState.CLOSED


async def test_requests_for_one_client_id_are_serialised(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gw = FakeGateway()
    gw.latency = 0.5
    events, _ = await run_cmds(gw, [place("a"), CancelOrder("a", SYM)])
    (_, t_place, _), (_, t_cancel, _) = gw.calls
    assert t_cancel >= t_place + 0.5  # the cancel left only after the place was answered
    assert [type(e) for e in events] == [PlaceAccepted, CancelAccepted]


async def test_query_retried_then_unknown(autojump_clock: trio.testing.MockClock) -> None:
    gw = FakeGateway()
    gw.script = {"query": [OutcomeUnknownError("503", status=503)] * 2 + [upd("q")]}
    events, _ = await run_cmds(gw, [QueryOrder("q", SYM)])
    assert isinstance(events[0], OrderUpdate) and gw.count("query") == 3
    gw2 = FakeGateway()
    gw2.script = {"query": [OutcomeUnknownError("503", status=503)] * 5}
    events2, _ = await run_cmds(gw2, [QueryOrder("q", SYM), CancelAll(SYM, "x")])
    assert len(events2) == 1 and isinstance(events2[0], OutcomeUnknown)
    assert events2[0].operation == "query" and gw2.count("query") == 3
    assert gw2.count("cancel_all") == 1


async def test_a_refused_timestamp_is_counted_told_and_an_idempotent_request_retried(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """-1021: a definite refusal for a place (no query, no unknown outcome), the engine told
    each time (it measures the offset again), and a cancel-all or query tried again (the venue
    client measured its offset again before raising)."""
    gw = FakeGateway()
    skew = ClockSkewError("Timestamp for this request is outside of the recvWindow.", code="-1021")
    gw.script = {"place": [skew], "cancel_all": [skew], "query": [skew, upd("q")]}
    told: list[float] = []
    events, ex = await run_cmds(
        gw,
        [place("a"), CancelAll(SYM, "x"), QueryOrder("q", SYM)],
        setup=lambda e: setattr(e, "on_clock_skew", lambda: told.append(trio.current_time())),
    )
    by_cid = {getattr(e, "client_id", None): e for e in events}
    assert isinstance(by_cid["a"], PlaceRejected) and by_cid["a"].kind is RejectKind.CLOCK_SKEW
    assert isinstance(by_cid["q"], OrderUpdate) and gw.count("query") == 2
    assert gw.count("cancel_all") == 2  # retried after the refusal
    assert ex.stats()["clock_rejects"] == 3 and len(told) == 3
    assert ex.stats()["unknown_outcomes"] == 0 and ex.stats()["failures"] == 0


async def test_cancel_all_and_confirm_loops_until_zero(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gw = FakeGateway()
    gw.open = [[upd("a"), upd("b")], [upd("a")], []]
    ev_send, _ = trio.open_memory_channel[Event](10)
    ex = Execution(
        gw, BTCUSDT, RateBudget(DEFAULT_LIMITS), CircuitBreaker(), ev_send, clock, costs=COSTS
    )
    assert await ex.cancel_all_and_confirm(SYM, deadline_s=10) == 0
    assert gw.count("cancel_all") == 3 and gw.count("open_orders") == 3


async def test_cancel_all_and_confirm_stops_at_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gw = FakeGateway()
    gw.open = [[upd("a")]] * 1000
    ev_send, _ = trio.open_memory_channel[Event](10)
    ex = Execution(
        gw, BTCUSDT, RateBudget(DEFAULT_LIMITS), CircuitBreaker(), ev_send, clock, costs=COSTS
    )
    t0 = trio.current_time()
    assert await ex.cancel_all_and_confirm(SYM, deadline_s=3) == 1
    assert trio.current_time() - t0 <= 3.01
    assert gw.count("cancel_all") >= 2


async def test_amend_budget_refusal_is_amend_rejected(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gw = FakeGateway()
    budget = RateBudget(limits(weight_1m=1))  # soft limit 0
    events, _ = await run_cmds(gw, [AmendOrder("a", SYM, Side.SELL, 100, 1)], budget=budget)
    assert isinstance(events[0], AmendRejected) and events[0].kind is RejectKind.LOCAL
    assert gw.count("amend") == 0
