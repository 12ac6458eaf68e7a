"""BinanceRest against httpx.MockTransport: signing, headers, errors, retries, time offset."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import pytest
import trio

from mmtrio.core.commands import CancelOrder, PlaceOrder, QueryOrder
from mmtrio.core.events import Side
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import (
    AuthError,
    ClockSkewError,
    ConnectionFailed,
    OutcomeUnknownError,
    RateLimited,
    VenueError,
)
from mmtrio.venues.binance.codec import BinanceDecoder
from mmtrio.venues.binance.errors import classify, kind_of
from mmtrio.venues.binance.rest import BinanceRest
from mmtrio.venues.binance.signing import Signer

SECRET = "s3cr3t-value-never-logged"
SERVER_MS = 1_700_000_010_000
LOCAL_MS = 1_700_000_000_000  # local clock 10 s behind the venue


class Venue:
    """A scripted venue: records requests, answers with ``respond``."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.respond = respond

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/fapi/v1/time":
            return httpx.Response(200, json={"serverTime": SERVER_MS})
        return self.respond(request)


def make(venue: Venue, headers: list[tuple[int | None, ...]] | None = None) -> BinanceRest:
    def on_usage(usage: dict[str, int | None]) -> None:
        if headers is not None:
            headers.append((usage["weight_1m"], usage["orders_10s"], usage["orders_1m"]))

    return BinanceRest(
        "http://venue.test",
        BinanceDecoder([BTCUSDT]),
        signer=Signer("api-key-123", SECRET),
        on_usage=on_usage,
        clock_ms=lambda: LOCAL_MS,
        transport=httpx.MockTransport(venue),
    )


PLACE = PlaceOrder("mm-1", "BTCUSDT", Side.BUY, 281451, 2)
ACK = {"orderId": 42, "clientOrderId": "mm-1", "symbol": "BTCUSDT", "status": "NEW"}


async def test_place_is_signed_over_exact_bytes_with_offset_and_headers() -> None:
    seen: list[tuple[int | None, ...]] = []
    venue = Venue(
        lambda r: httpx.Response(
            200,
            json=ACK,
            headers={"X-MBX-USED-WEIGHT-1M": "17", "X-MBX-ORDER-COUNT-10S": "3",
                     "X-MBX-ORDER-COUNT-1M": "9"},
        )
    )  # fmt: skip
    async with make(venue, seen) as rest:
        assert rest.time_offset_ms == SERVER_MS - LOCAL_MS
        ack = await rest.place_order(PLACE)
    assert (ack.order_id, ack.client_id) == (42, "mm-1")
    req = venue.requests[-1]
    assert req.method == "POST" and req.headers["X-MBX-APIKEY"] == "api-key-123"
    query = req.url.query.decode()
    unsigned, sig = query.rsplit("&signature=", 1)
    assert sig == hmac.new(SECRET.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
    params = dict(parse_qsl(query))
    assert params["timestamp"] == str(SERVER_MS)  # local + offset
    assert params["price"] == "28145.10" and params["quantity"] == "0.002"
    assert params["timeInForce"] == "GTX" and params["newOrderRespType"] == "ACK"
    assert seen[-1] == (17, 3, 9)
    assert SECRET not in repr(rest)


async def test_429_blocks_until_retry_after_then_sends_again(autojump_clock: object) -> None:
    calls = {"n": 0}

    def respond(r: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(
                429, json={"code": -1003, "msg": "Too many requests"}, headers={"Retry-After": "7"}
            )
        return httpx.Response(200, json=ACK)

    venue = Venue(respond)
    async with make(venue) as rest:
        with pytest.raises(RateLimited) as ei:
            await rest.place_order(PLACE)
        assert ei.value.retry_after_s == 7 and not ei.value.banned and ei.value.definite
        sent = len(venue.requests)
        with pytest.raises(RateLimited, match="not sent"):
            await rest.query_order(QueryOrder("mm-1", "BTCUSDT"))
        assert len(venue.requests) == sent  # nothing went out during the back-off
        await trio.sleep(7.5)
        assert (await rest.place_order(PLACE)).order_id == 42


async def test_a_back_off_is_reported_with_its_wall_clock_end() -> None:
    venue = Venue(
        lambda r: httpx.Response(
            429, json={"code": -1003, "msg": "Too many requests"}, headers={"Retry-After": "7"}
        )
    )
    blocked: list[tuple[int, bool]] = []
    rest = make(venue)
    rest._on_blocked = lambda until, banned: blocked.append((until, banned))
    with pytest.raises(RateLimited):
        await rest.place_order(PLACE)
    assert blocked == [(LOCAL_MS + 1 + 7_000, False)]  # +1: never before the client's own end


async def test_418_is_a_ban() -> None:
    venue = Venue(lambda r: httpx.Response(418, json={"code": -1003, "msg": "banned"}))
    blocked: list[tuple[int, bool]] = []
    async with make(venue) as rest:
        rest._on_blocked = lambda until, banned: blocked.append((until, banned))
        with pytest.raises(RateLimited) as ei:
            await rest.cancel_order(CancelOrder("mm-1", "BTCUSDT"))
    assert ei.value.banned and ei.value.retry_after_s == 120.0
    assert blocked == [(LOCAL_MS + 1 + 120_000, True)]  # told as a ban: counted apart


async def test_5xx_is_unknown_and_never_retried_for_orders() -> None:
    venue = Venue(lambda r: httpx.Response(503, text="<html>Service Unavailable</html>"))
    async with make(venue) as rest:
        with pytest.raises(OutcomeUnknownError) as ei:
            await rest.place_order(PLACE)
    assert not ei.value.definite and ei.value.status == 503
    assert sum(r.method == "POST" for r in venue.requests) == 1


async def test_definite_rejection_minus_5022() -> None:
    body = {"code": -5022, "msg": "Due to the order could not be executed as maker, ..."}
    venue = Venue(lambda r: httpx.Response(400, json=body))
    async with make(venue) as rest:
        with pytest.raises(VenueError) as ei:
            await rest.place_order(PLACE)
    assert ei.value.code == "-5022" and ei.value.definite
    assert ei.value.kind is RejectKind.WOULD_CROSS
    assert not isinstance(ei.value, OutcomeUnknownError)


async def test_transport_errors() -> None:
    def read_timeout(r: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=r)

    venue = Venue(read_timeout)
    async with make(venue) as rest:
        with pytest.raises(OutcomeUnknownError):
            await rest.place_order(PLACE)
        assert sum(r.method == "POST" for r in venue.requests) == 1
        # a GET is retried once, then reported
        with pytest.raises(OutcomeUnknownError):
            await rest.open_orders("BTCUSDT")
        assert sum(r.url.path == "/fapi/v1/openOrders" for r in venue.requests) == 2

    def refuse(r: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=r)

    async with make(Venue(lambda r: httpx.Response(200, json=ACK))) as rest:
        rest._client._transport = httpx.MockTransport(refuse)  # venue goes away
        with pytest.raises(ConnectionFailed) as ei:
            await rest.place_order(PLACE)
    assert ei.value.definite  # never left: safe to decide again


async def test_get_retry_recovers_and_200_garbage_on_place_is_unknown() -> None:
    n = {"k": 0}

    def flaky(r: httpx.Request) -> httpx.Response:
        n["k"] += 1
        if n["k"] == 1:
            raise httpx.RemoteProtocolError("server disconnected", request=r)
        if r.method == "POST":
            return httpx.Response(200, text="not json")
        return httpx.Response(200, json=[])

    async with make(Venue(flaky)) as rest:
        assert await rest.open_orders("BTCUSDT") == []
        with pytest.raises(OutcomeUnknownError, match="unreadable"):
            await rest.place_order(PLACE)


async def test_minus_1021_resyncs_time() -> None:
    venue = Venue(lambda r: httpx.Response(400, json={"code": -1021, "msg": "outside recvWindow"}))
    async with make(venue) as rest:
        rest.time_offset_ms = 0
        with pytest.raises(ClockSkewError):
            await rest.place_order(PLACE)
        assert rest.time_offset_ms == SERVER_MS - LOCAL_MS


async def test_listen_key_and_countdown() -> None:
    def respond(r: httpx.Request) -> httpx.Response:
        if r.url.path == "/fapi/v1/listenKey":
            return httpx.Response(200, json={"listenKey": "LK"} if r.method == "POST" else {})
        return httpx.Response(200, json={"symbol": "BTCUSDT", "countdownTime": "60000"})

    venue = Venue(respond)
    async with make(venue) as rest:
        assert await rest.new_listen_key() == "LK"
        await rest.keepalive_listen_key()
        assert await rest.countdown_cancel_all("BTCUSDT", 60_000) == 60_000
    lk = [r for r in venue.requests if r.url.path == "/fapi/v1/listenKey"]
    assert [r.method for r in lk] == ["POST", "PUT"] and not lk[0].url.query  # keyed, unsigned


@pytest.mark.parametrize(
    ("status", "code", "kind", "definite"),
    [
        (400, -1102, VenueError, True),
        (400, -1111, VenueError, True),
        (400, -1022, AuthError, True),
        (401, -2015, AuthError, True),
        (400, -2011, VenueError, True),
        (400, -2019, VenueError, True),
        (400, -4164, VenueError, True),
        (404, None, VenueError, True),
        (503, None, OutcomeUnknownError, False),
        (500, -1006, OutcomeUnknownError, False),
        (400, -1007, OutcomeUnknownError, False),
        (429, -1003, RateLimited, True),
        (400, -1021, ClockSkewError, True),
    ],
)
def test_classify(status: int, code: int | None, kind: type, definite: bool) -> None:
    err = classify(status, code, "m", "3")
    assert type(err) is kind and err.definite is definite


@pytest.mark.parametrize(
    ("status", "code", "error", "kind", "definite"),
    [
        # PROTOCOL.md "Limits and errors", each code the reaction it must get
        (429, -1003, RateLimited, RejectKind.RATE_LIMITED, True),  # back off
        (418, -1003, RateLimited, RejectKind.RATE_LIMITED, True),  # banned
        (400, -1003, RateLimited, RejectKind.RATE_LIMITED, True),
        (503, None, OutcomeUnknownError, RejectKind.UNKNOWN, False),  # query before anything
        (400, -1006, OutcomeUnknownError, RejectKind.UNKNOWN, False),
        (400, -1007, OutcomeUnknownError, RejectKind.UNKNOWN, False),
        # the venue failed inside after reading the request: nothing says it did not act
        (400, -1000, OutcomeUnknownError, RejectKind.UNKNOWN, False),
        (400, -1001, OutcomeUnknownError, RejectKind.UNKNOWN, False),
        (400, -1008, OutcomeUnknownError, RejectKind.UNKNOWN, False),
        # too many new orders: an order-rate limit, backed off whatever the status
        (400, -1015, RateLimited, RejectKind.RATE_LIMITED, True),
        (429, -1015, RateLimited, RejectKind.RATE_LIMITED, True),
        # refused before processing: nothing was done, our clock is off
        (400, -1021, ClockSkewError, RejectKind.CLOCK_SKEW, True),
        (400, -1022, AuthError, RejectKind.AUTH, True),
        (400, -1102, VenueError, RejectKind.UNKNOWN, True),  # our request malformed: back off
        (400, -1106, VenueError, RejectKind.UNKNOWN, True),
        (400, -1111, VenueError, RejectKind.INVALID_PRICE, True),
        (400, -2011, VenueError, RejectKind.UNKNOWN_ORDER, True),
        (400, -2013, VenueError, RejectKind.UNKNOWN_ORDER, True),
        (400, -2019, VenueError, RejectKind.INSUFFICIENT_MARGIN, True),
        (400, -4164, VenueError, RejectKind.INVALID_SIZE, True),
        (400, -5022, VenueError, RejectKind.WOULD_CROSS, True),
    ],
)
def test_every_documented_code_gets_its_reaction(
    status: int, code: int | None, error: type, kind: RejectKind, definite: bool
) -> None:
    err = classify(status, code, "m")
    assert type(err) is error
    assert err.kind is kind and err.definite is definite


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (-5022, RejectKind.WOULD_CROSS),
        (-2011, RejectKind.UNKNOWN_ORDER),
        (-2013, RejectKind.UNKNOWN_ORDER),
        (-2019, RejectKind.INSUFFICIENT_MARGIN),
        (-2022, RejectKind.REDUCE_ONLY),
        (-4061, RejectKind.POSITION_SIDE),
        (-4164, RejectKind.INVALID_SIZE),
        (-1111, RejectKind.INVALID_PRICE),
        (-2015, RejectKind.AUTH),
        (-9999, RejectKind.UNKNOWN),  # a code no mapping knows: logged raw, never a crash
        (None, RejectKind.UNKNOWN),
    ],
)
def test_binance_codes_map_to_neutral_reject_kinds(code: int | None, kind: RejectKind) -> None:
    assert kind_of(code) is kind
    if code is not None:
        err = classify(400, code, "m")
        assert err.kind is kind and err.code == str(code)


async def test_a_shorter_back_off_read_later_does_not_lift_a_ban(autojump_clock: object) -> None:
    # Chaos seed 7006: answers to concurrent requests are read in any order, and an injected
    # 429 (Retry-After 2) read after a 418 (Retry-After 120) shortened the ban to 2 s; the next
    # request drew another 418.
    sent: list[str] = []
    ban_read = trio.Event()

    async def respond(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        if request.method == "POST":  # the place: banned, answered at once
            return httpx.Response(
                418, json={"code": -1003, "msg": "banned"}, headers={"Retry-After": "120"}
            )
        await ban_read.wait()  # the cancel left with the place; its 429 is read second
        return httpx.Response(
            429, json={"code": -1003, "msg": "slow"}, headers={"Retry-After": "2"}
        )

    rest = BinanceRest(
        "http://venue.test",
        BinanceDecoder([BTCUSDT]),
        signer=Signer("api-key-123", SECRET),
        clock_ms=lambda: LOCAL_MS,
        transport=httpx.MockTransport(respond),
    )
    errors: list[RateLimited] = []

    async def call(fn: Callable[[], object]) -> None:
        try:
            await fn()  # type: ignore[misc]
        except RateLimited as exc:
            errors.append(exc)
        if len(errors) == 1:
            ban_read.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call, lambda: rest.cancel_order(CancelOrder("mm-1", "BTCUSDT")))
        await trio.sleep(0.01)
        nursery.start_soon(call, lambda: rest.place_order(PLACE))
    assert [e.banned for e in errors] == [True, False]  # the ban was read first
    await trio.sleep(5)  # well past the 429's 2 s, well inside the ban
    with pytest.raises(RateLimited, match="not sent") as ei:
        await rest.query_order(QueryOrder("mm-1", "BTCUSDT"))
    assert sent == ["DELETE", "POST"]
    assert ei.value.retry_after_s is not None and ei.value.retry_after_s > 100
    await rest.aclose()
