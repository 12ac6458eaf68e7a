"""The reconnect backoff starts over only after a connection proven healthy.

The defect: OKX's and Hyperliquid's streams reset the backoff on a connection's first
message, and there the first message is a pong or a subscription answer. A venue that accepts
the connection, answers its pings and acknowledges the subscription, then drops it, was
reconnected without backoff, again and again: a reconnect storm, what venues ban for.

Here a scripted venue (in memory, virtual time) serves each connection of a market or user
stream (its login answered too) one of two ways:
``flap`` (subscriptions acknowledged, pings answered, no data, closed after ``FLAP_S``) or
``healthy`` (the same, then data every ``DATA_EVERY_S``; closed after ``HEALTHY_S``). The RNG
always draws the backoff's ceiling, so each pause is exactly ``base * 2**attempt``: the pauses
grow across flaps and start over after a healthy session.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import orjson
import pytest
import trio
from trio_websocket import CloseReason, ConnectionClosed

from mmtrio.core.events import FeedStatus
from mmtrio.core.instruments import Instrument
from mmtrio.venues.wsconn import HEALTHY_AFTER_S, WsConnection

FLAP_S = 3.0  # a flapping connection lives long enough for pongs (pings every second)
HEALTHY_S = 5.0
DATA_EVERY_S = 0.5
BASE_S, CAP_S = 0.5, 30.0

SWAP = Instrument(
    symbol="BTC-USDT-SWAP",
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.01"),
    min_qty=1,
    max_qty=10**10,
    min_notional=Decimal(0),
    base_asset="BTC",
    contract_size=Decimal("0.01"),
)
COIN = Instrument(
    symbol="BTC",
    tick_size=Decimal("1"),
    lot_size=Decimal("0.00001"),
    min_qty=1,
    max_qty=10**12,
    min_notional=Decimal(0),
    base_asset="BTC",
)


class Ceiling(random.Random):
    """Full jitter drawn at its ceiling: every pause is the backoff's bound."""

    def uniform(self, a: float, b: float) -> float:
        return b


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class Okx:
    """OKX's public endpoint: text ``ping``/``pong``, one ``subscribe`` event per channel."""

    def answer(self, text: str) -> list[str]:
        if text == "ping":
            return ["pong"]
        msg = orjson.loads(text)
        if msg.get("op") == "subscribe":
            return [_dumps({"event": "subscribe", "arg": arg}) for arg in msg["args"]]
        return []

    def data(self, n: int) -> str:
        book = {"asks": [["100001.0", "1", "0", "1"]], "bids": [["100000.0", "1", "0", "1"]],
                "ts": str(1000 + n), "checksum": 0, "prevSeqId": -1, "seqId": 100 + n}  # fmt: skip
        return _dumps({"arg": {"channel": "books", "instId": SWAP.symbol}, "action": "snapshot",
                       "data": [book]})  # fmt: skip

    def stream(self, connect: Any) -> Any:
        from mmtrio.venues.okx.codec import OkxDecoder
        from mmtrio.venues.okx.streams import MarketStream

        return MarketStream("ws://okx/ws/v5/public", OkxDecoder(SWAP), clock_ms=_clock_ms,
                            connect=connect, **_timing())  # fmt: skip


class OkxUser(Okx):
    """OKX's private endpoint: login answered, then as the public one; data is an account push."""

    def answer(self, text: str) -> list[str]:
        if text != "ping" and orjson.loads(text).get("op") == "login":
            return [_dumps({"event": "login", "code": "0", "msg": "", "connId": "c"})]
        return super().answer(text)

    def data(self, n: int) -> str:
        row = {"details": [{"ccy": "USDT", "cashBal": "100", "eq": "100", "availBal": "100"}],
               "totalEq": "100", "uTime": str(1000 + n)}  # fmt: skip
        return _dumps({"arg": {"channel": "account", "ccy": "USDT"}, "data": [row]})

    def stream(self, connect: Any) -> Any:
        from mmtrio.venues.okx.codec import OkxDecoder
        from mmtrio.venues.okx.signing import Signer
        from mmtrio.venues.okx.streams import UserStream

        return UserStream("ws://okx/ws/v5/private", OkxDecoder(SWAP), settle_ccy="USDT",
                          clock_ms=_clock_ms, signer=Signer("k", "s", "p"), connect=connect,
                          **_timing())  # fmt: skip


class Hyperliquid:
    """Hyperliquid's ``/ws``: JSON ping answered on ``pong``, ``subscriptionResponse`` echoes."""

    def answer(self, text: str) -> list[str]:
        msg = orjson.loads(text)
        if msg.get("method") == "ping":
            return [_dumps({"channel": "pong"})]
        if msg.get("method") == "subscribe":
            return [_dumps({"channel": "subscriptionResponse", "data": msg})]
        return []

    def data(self, n: int) -> str:
        levels = [[{"px": "100000", "sz": "1", "n": 1}], [{"px": "100001", "sz": "1", "n": 1}]]
        book = {"coin": COIN.symbol, "time": 1000 + n, "levels": levels}
        return _dumps({"channel": "l2Book", "data": book})

    def stream(self, connect: Any) -> Any:
        from mmtrio.venues.hyperliquid.streams import MarketStream

        return MarketStream("ws://hl/ws", COIN, clock_ms=_clock_ms, max_age_ms=10**12,
                            connect=connect, **_timing())  # fmt: skip


def _clock_ms() -> int:
    return 1000 + int(trio.current_time() * 1000)


def _timing() -> dict[str, Any]:
    return {"rng": Ceiling(), "backoff_base_s": BASE_S, "backoff_cap_s": CAP_S,
            "ping_interval_s": 1.0, "pong_timeout_s": 1.0}  # fmt: skip


class Venue:
    """Serves the n-th connection as ``plan[n]`` says; records when each opened and closed."""

    def __init__(self, protocol: Protocol, plan: list[str]) -> None:
        self.protocol = protocol
        self.plan = plan
        self.opened: list[float] = []
        self.closed: list[float] = []
        self.pongs = 0
        self.data_sent = 0

    @asynccontextmanager
    async def connect(self, url: str, **_: Any) -> AsyncIterator[Any]:
        n = len(self.opened)
        if n >= len(self.plan):
            await trio.sleep_forever()  # the script is over: the next attempt hangs
        self.opened.append(trio.current_time())
        ws = _Ws(self, self.plan[n])
        try:
            yield ws
        finally:
            self.closed.append(trio.current_time())

    def pauses(self) -> list[float]:
        """The pause before each reconnect: from a connection's end to the next one's start."""
        return [round(b - a, 6) for a, b in zip(self.closed, self.opened[1:], strict=False)]


class _Ws:
    def __init__(self, venue: Venue, mode: str) -> None:
        self.venue, self.mode = venue, mode
        self.opened = trio.current_time()
        self.lifetime = FLAP_S if mode == "flap" else HEALTHY_S
        self._send, self._recv = trio.open_memory_channel[str](100)
        self._next_data = self.opened + DATA_EVERY_S

    async def send_message(self, text: str) -> None:
        for reply in self.venue.protocol.answer(text):
            self.venue.pongs += "pong" in reply
            self._send.send_nowait(reply)

    async def ping(self) -> None:
        pass

    async def get_message(self) -> str:
        end = self.opened + self.lifetime
        due = min(end, self._next_data) if self.mode == "healthy" else end
        with trio.move_on_at(due):
            return await self._recv.receive()
        if trio.current_time() >= end:
            raise ConnectionClosed(CloseReason(1000, "closed by the venue"))
        self._next_data += DATA_EVERY_S
        self.venue.data_sent += 1
        return self.venue.protocol.data(self.venue.data_sent)


class Sink:
    def __init__(self) -> None:
        self.statuses: list[FeedStatus] = []

    def market(self, event: Any) -> None:
        pass

    def status(self, event: FeedStatus) -> None:
        self.statuses.append(event)


class HyperliquidUser(Hyperliquid):
    """Hyperliquid's ``/ws`` for one account: data is ``userFills`` (its first is a snapshot)."""

    def data(self, n: int) -> str:
        fills = {"isSnapshot": True, "user": ACCOUNT, "fills": []}
        return _dumps({"channel": "userFills", "data": fills})

    def stream(self, connect: Any) -> Any:
        from mmtrio.venues.hyperliquid.tracking import OrderTracking
        from mmtrio.venues.hyperliquid.userstream import UserStream

        return UserStream("ws://hl/ws", ACCOUNT, COIN, OrderTracking(), clock_ms=_clock_ms,
                          connect=connect, **_timing())  # fmt: skip


ACCOUNT = "0x" + "11" * 20
Protocol = Okx | Hyperliquid
PROTOCOLS: dict[str, Callable[[], Protocol]] = {
    "okx": Okx,
    "hyperliquid": Hyperliquid,
    "okx-user": OkxUser,
    "hyperliquid-user": HyperliquidUser,
}


async def _drive(stream: Any) -> None:
    """Run a market stream into a sink, a user stream into an awaited consumer."""
    if stream.stream_name == "user":

        async def send(event: Any) -> None:
            pass

        await stream.run(send)
    else:
        await stream.run(Sink())


async def _run(name: str, plan: list[str]) -> tuple[Venue, Any]:
    venue = Venue(PROTOCOLS[name](), plan)
    stream = venue.protocol.stream(venue.connect)
    with trio.move_on_after(300.0):
        await _drive(stream)
    assert len(venue.opened) == len(plan), "every scripted connection was made"
    return venue, stream


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
async def test_pauses_grow_across_flaps_and_start_over_after_a_healthy_session(
    autojump_clock: Any, name: str
) -> None:
    plan = ["flap"] * 4 + ["healthy"] + ["flap"] * 3
    venue, _ = await _run(name, plan)
    assert venue.pongs >= 2 * 4  # every flapping connection answered its pings
    # base * 2**attempt: 0.5, 1, 2, 4 across the flaps; the healthy session starts it over.
    assert venue.pauses() == [0.5, 1.0, 2.0, 4.0, 0.5, 1.0, 2.0]


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
async def test_a_venue_that_keeps_flapping_is_retried_at_the_cap(
    autojump_clock: Any, name: str
) -> None:
    venue, stream = await _run(name, ["flap"] * 9)
    assert venue.pauses() == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert stream.backoff.attempt == 9  # the attempt after the last connection is counted too


async def test_okx_data_before_every_subscription_is_acknowledged_proves_nothing(
    autojump_clock: Any,
) -> None:
    """OKX answers a subscribe with one event per channel and may refuse one after data of
    another arrived: data proves the connection only once every channel was accepted."""

    class PartialAcks(Okx):
        def answer(self, text: str) -> list[str]:
            return [r for r in super().answer(text) if "funding-rate" not in r]

    venue = Venue(PartialAcks(), ["healthy"] * 4)
    stream = venue.protocol.stream(venue.connect)
    with trio.move_on_after(300.0):
        await stream.run(Sink())
    assert venue.data_sent >= 4 * 8
    assert venue.pauses() == [0.5, 1.0, 2.0]


class _Quiet(WsConnection):
    """A connection that delivers nothing (a quiet user stream) and ends after ``lives``."""

    def __init__(self, lives: list[float]) -> None:
        super().__init__(rng=Ceiling(), clock_ms=lambda: 0, backoff_base_s=BASE_S,
                         backoff_cap_s=CAP_S, ping_interval_s=1e9, pong_timeout_s=1.0,
                         max_connection_age_s=1e9, connect_timeout_s=1.0)  # fmt: skip
        self.lives = lives
        self.opened: list[float] = []
        self.closed: list[float] = []

    async def _emit_status(self, connected: bool, reason: str) -> None:
        pass

    async def _url(self) -> str:
        return "ws://venue"

    @asynccontextmanager
    async def _open(self, url: str, **_: Any) -> AsyncIterator[Any]:
        if len(self.opened) >= len(self.lives):
            await trio.sleep_forever()
        self.opened.append(trio.current_time())
        yield None
        self.closed.append(trio.current_time())

    async def _session(self, ws: Any) -> None:
        await trio.sleep(self.lives[len(self.opened) - 1])


async def test_a_connection_that_stayed_up_long_enough_counts_healthy(
    autojump_clock: Any,
) -> None:
    """Nothing proves a quiet connection but its age: one that lasted ``HEALTHY_AFTER_S``
    starts the backoff over; shorter ones do not."""
    stream = _Quiet([1.0, 1.0, 1.0, HEALTHY_AFTER_S, 1.0, HEALTHY_AFTER_S - 1.0, 1.0])
    stream._connect = stream._open
    with trio.move_on_after(1000.0):
        await stream._loop()
    pauses = [round(b - a, 6) for a, b in zip(stream.closed, stream.opened[1:], strict=False)]
    assert pauses == [0.5, 1.0, 2.0, 0.5, 1.0, 2.0]
