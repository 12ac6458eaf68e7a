"""Binance refusals against the REAL simulated venue, over REST and over the order socket
(ws-fapi): each code PROTOCOL.md lists reaches the bot's execution layer as the outcome the
strategy must act on (a definite refusal of its kind, an unknown outcome, a rate limit, an
auth failure), and a request refused for its timestamp (-1021) is a definite refusal that
makes the bot measure the venue's clock offset again, after which the same request passes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import trio

from mmtrio.core.commands import AmendOrder, CancelOrder, Command, PlaceOrder
from mmtrio.core.events import (
    AmendAccepted,
    AmendRejected,
    CancelAccepted,
    CancelRejected,
    Event,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
    Side,
    TimeInForce,
)
from mmtrio.core.instruments import Instrument
from mmtrio.core.ratelimit import RateBudget
from mmtrio.core.rejects import RejectKind
from mmtrio.runtime.breaker import CircuitBreaker
from mmtrio.runtime.execution import Execution
from mmtrio.sim.venue import SimVenue
from mmtrio.venues.binance.codec import BinanceDecoder
from mmtrio.venues.binance.costs import COSTS, DEFAULT_LIMITS
from mmtrio.venues.binance.gateway import RestGateway
from mmtrio.venues.binance.rest import BinanceRest
from mmtrio.venues.binance.signing import Signer
from mmtrio.venues.protocol import Gateway
from tests.integration.sim_helpers import KEY, SECRET, running_sim
from tests.integration.test_ws_order_entry import session as ws_session

pytestmark = pytest.mark.integration
SYM = "BTCUSDT"
TRANSPORTS = ("rest", "ws")


def clock() -> int:
    return int(trio.current_time() * 1000)


@dataclass
class Bot:
    """The bot's execution layer on one transport, and what it told the engine."""

    venue: SimVenue
    rest: BinanceRest
    inst: Instrument
    ex: Execution
    cmds: trio.MemorySendChannel[Command]
    events: trio.MemoryReceiveChannel[Event]
    clock_skews: list[int]

    async def ask(self, cmd: Command) -> Event:
        await self.cmds.send(cmd)
        with trio.fail_after(10):
            return await self.events.receive()

    def buy(self, cid: str, price: str = "50000") -> PlaceOrder:
        """A passive post-only buy far below the market: rests without filling."""
        return PlaceOrder(cid, SYM, Side.BUY, self.inst.price_to_ticks(price),
                          self.inst.qty_to_lots("0.010"), TimeInForce.POST_ONLY)  # fmt: skip

    def amend(self, cid: str, price: str) -> AmendOrder:
        return AmendOrder(
            cid, SYM, Side.BUY, self.inst.price_to_ticks(price), self.inst.qty_to_lots("0.010")
        )


@asynccontextmanager
async def _executing(
    venue: SimVenue, rest: BinanceRest, gateway: Gateway, inst: Instrument
) -> AsyncIterator[Bot]:
    ev_send, ev_recv = trio.open_memory_channel[Event](100)
    cmd_send, cmd_recv = trio.open_memory_channel[Command](100)
    ex = Execution(
        gateway, inst, RateBudget(DEFAULT_LIMITS), CircuitBreaker(), ev_send, clock, costs=COSTS
    )
    skews: list[int] = []
    ex.on_clock_skew = lambda: skews.append(clock())  # the engine: measure again, count
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ex.run, cmd_recv)
        yield Bot(venue, rest, inst, ex, cmd_send, ev_recv, skews)
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def bot_on(transport: str) -> AsyncIterator[Bot]:
    if transport == "ws":
        async with (
            ws_session() as (venue, sess),
            _executing(venue, sess.rest, sess.gateway, sess.instrument) as bot,
        ):
            yield bot
        return
    async with running_sim() as (venue, urls):
        inst = venue.instrument
        rest = BinanceRest(urls.rest, BinanceDecoder([inst]), signer=Signer(KEY, SECRET))
        async with rest, _executing(venue, rest, RestGateway(rest, inst), inst) as bot:
            yield bot


def order_price(bot: Bot, cid: str) -> str:
    return bot.inst.price_str(bot.venue.account.orders[cid].price)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_refused_timestamp_is_a_definite_refusal_and_the_clock_is_measured_again(
    transport: str,
) -> None:
    async with bot_on(transport) as bot:
        assert isinstance(await bot.ask(bot.buy("ck-1")), PlaceAccepted)
        offset = bot.rest.time_offset_ms
        # The venue's clock jumps 20 s ahead of ours: every signed request is now outside
        # its 5 s recvWindow, exactly what a host clock that drifted looks like to Binance.
        bot.venue.inject("clock_skew", {"ms": 20_000})
        refused = await bot.ask(bot.amend("ck-1", "50010"))
        assert isinstance(refused, AmendRejected), refused
        assert refused.kind is RejectKind.CLOCK_SKEW and refused.code == "-1021"
        # Definite: the venue did nothing (the order rests unchanged), nothing to resolve.
        assert order_price(bot, "ck-1") == "50000.00"
        assert bot.venue.account.orders["ck-1"].status == "NEW"
        assert bot.ex.stats()["unknown_outcomes"] == 0
        # Counted and reported to the engine, and the signing offset measured again.
        assert bot.ex.stats()["clock_rejects"] == 1 and len(bot.clock_skews) == 1
        assert abs(bot.rest.time_offset_ms - offset - 20_000) < 2_000
        # The same amend passes now.
        assert isinstance(await bot.ask(bot.amend("ck-1", "50010")), AmendAccepted)
        assert order_price(bot, "ck-1") == "50010.00"

        # A cancel refused for its timestamp: the order is still there and still ours.
        bot.venue.inject("clock_skew", {"ms": 60_000})
        refused = await bot.ask(CancelOrder("ck-1", SYM))
        assert isinstance(refused, CancelRejected), refused
        assert refused.kind is RejectKind.CLOCK_SKEW
        assert bot.venue.account.orders["ck-1"].status == "NEW"
        assert isinstance(await bot.ask(CancelOrder("ck-1", SYM)), CancelAccepted)
        assert bot.venue.account.orders["ck-1"].status == "CANCELED"
        assert bot.ex.stats()["clock_rejects"] == 2 and len(bot.clock_skews) == 2


# (operation, code, HTTP status, the outcome event, its kind; None: no kind, unknown outcome)
CASES: list[tuple[str, int, int, type, RejectKind | None]] = [
    ("place", -5022, 400, PlaceRejected, RejectKind.WOULD_CROSS),
    ("place", -2019, 400, PlaceRejected, RejectKind.INSUFFICIENT_MARGIN),
    ("place", -4164, 400, PlaceRejected, RejectKind.INVALID_SIZE),
    ("place", -1111, 400, PlaceRejected, RejectKind.INVALID_PRICE),
    ("place", -1102, 400, PlaceRejected, RejectKind.UNKNOWN),  # our bug: definite, backed off
    ("place", -1106, 400, PlaceRejected, RejectKind.UNKNOWN),
    ("place", -1022, 400, PlaceRejected, RejectKind.AUTH),
    ("place", -1021, 400, PlaceRejected, RejectKind.CLOCK_SKEW),
    ("amend", -1021, 400, AmendRejected, RejectKind.CLOCK_SKEW),
    ("amend", -2013, 400, AmendRejected, RejectKind.UNKNOWN_ORDER),
    ("cancel", -2011, 400, CancelRejected, RejectKind.UNKNOWN_ORDER),
    ("cancel", -1021, 400, CancelRejected, RejectKind.CLOCK_SKEW),
    ("place", -1006, 400, OutcomeUnknown, None),  # the venue says: execution status unknown
    ("place", -1007, 408, OutcomeUnknown, None),
    ("amend", -1000, 503, OutcomeUnknown, None),  # any 5xx: unknown
    ("place", -1003, 429, PlaceRejected, RejectKind.RATE_LIMITED),  # last: it blocks 10 s
]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_documented_code_reaches_the_bot_as_its_outcome(transport: str) -> None:
    async with bot_on(transport) as bot:
        assert isinstance(await bot.ask(bot.buy("base")), PlaceAccepted)
        commands: dict[str, Callable[[int], Command]] = {
            "place": lambda n: bot.buy(f"p-{n}"),
            "amend": lambda _: bot.amend("base", "50000"),
            "cancel": lambda _: CancelOrder("base", SYM),
        }
        for n, (op, code, status, outcome, kind) in enumerate(CASES):
            bot.venue.inject("error_code", {"count": 1, "code": code, "status": status})
            event = await bot.ask(commands[op](n))
            said = f"{op} {code}/{status} over {transport}: {event}"
            assert type(event) is outcome, said
            assert getattr(event, "kind", None) is kind, said
            if kind is not None:
                assert getattr(event, "code", None) == str(code), said
        # Every injected refusal was refused before it acted: only the base order exists.
        assert list(bot.venue.account.orders) == ["base"]
        assert bot.venue.account.orders["base"].status == "NEW"
        assert bot.ex.stats()["clock_rejects"] == 3
