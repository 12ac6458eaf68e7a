"""OkxRest and the gateway's REST path against httpx.MockTransport: signing, the demo
header, envelopes and sCodes, unknown outcomes, the rate-limit block, paging, the dead-man."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
import trio

from mmtrio.core.commands import AmendOrder, CancelOrder, PlaceOrder
from mmtrio.core.events import OrderStatus, Side
from mmtrio.core.instruments import Instrument
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import (
    AuthError,
    ConfigError,
    OutcomeUnknownError,
    RateLimited,
    VenueError,
)
from mmtrio.venues.okx.gateway import OkxGateway
from mmtrio.venues.okx.rest import OkxRest
from mmtrio.venues.okx.signing import Signer

SECRET = "okx-secret-never-logged"
SERVER_MS = 1_700_000_010_000
LOCAL_MS = 1_700_000_000_000
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


def ok(data: list[Any], code: str = "0", msg: str = "") -> httpx.Response:
    return httpx.Response(200, json={"code": code, "msg": msg, "data": data})


class Venue:
    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.respond = respond

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/api/v5/public/time":
            return ok([{"ts": str(SERVER_MS)}])
        return self.respond(request)


def make(venue: Venue, *, demo: bool = False) -> OkxRest:
    return OkxRest(
        "http://venue.test",
        signer=Signer("api-key-123", SECRET, "the-passphrase"),
        demo=demo,
        mode="testnet" if demo else "live",
        credentials_source="MMTRIO_API_KEY",
        clock_ms=lambda: LOCAL_MS,
        transport=httpx.MockTransport(venue),
    )


def sign(prehash: str) -> str:
    return base64.b64encode(
        hmac.new(SECRET.encode(), prehash.encode(), hashlib.sha256).digest()
    ).decode()


PLACE = PlaceOrder("mmt1x0", "BTC-USDT-SWAP", Side.BUY, 1036989, 5)
PLACED = [{"clOrdId": "mmt1x0", "ordId": "777", "tag": "", "ts": "1700000010001", "sCode": "0",
           "sMsg": "Order placed"}]  # fmt: skip


async def test_place_signed_over_the_exact_body_with_offset_and_demo_header() -> None:
    venue = Venue(lambda r: ok(PLACED))
    rest = make(venue, demo=True)
    await rest.sync_time()
    assert rest.time_offset_ms == SERVER_MS - LOCAL_MS
    ack = await OkxGateway(rest, SWAP).place(PLACE)
    assert (ack.client_id, ack.order_id, ack.status) == ("mmt1x0", 777, OrderStatus.NEW)
    req = venue.requests[-1]
    body = req.content.decode()
    assert json.loads(body)["ordType"] == "post_only" and json.loads(body)["sz"] == "0.05"
    stamp = req.headers["OK-ACCESS-TIMESTAMP"]
    assert stamp == "2023-11-14T22:13:30.000Z"  # SERVER_MS: the venue's clock, not ours
    assert req.headers["OK-ACCESS-SIGN"] == sign(stamp + "POST/api/v5/trade/order" + body)
    assert req.headers["OK-ACCESS-PASSPHRASE"] == "the-passphrase"
    assert req.headers["x-simulated-trading"] == "1"
    await rest.aclose()


async def test_get_signs_the_query_and_live_sends_no_demo_header() -> None:
    venue = Venue(lambda r: ok([]))
    rest = make(venue)
    assert await OkxGateway(rest, SWAP).query("BTC-USDT-SWAP", "mmt1x0") is None
    req = venue.requests[-1]
    target = "/api/v5/trade/order?instId=BTC-USDT-SWAP&clOrdId=mmt1x0"
    assert req.url.raw_path.decode() == target
    assert req.headers["OK-ACCESS-SIGN"] == sign(
        req.headers["OK-ACCESS-TIMESTAMP"] + "GET" + target
    )
    assert "x-simulated-trading" not in req.headers
    await rest.aclose()


async def test_s_codes_become_neutral_rejects() -> None:
    answers = iter(
        [
            ok([{**PLACED[0], "ordId": "", "sCode": "51008", "sMsg": "Insufficient margin"}],
               code="1", msg="All operations failed"),
            ok([{**PLACED[0], "sCode": "51400", "sMsg": "order does not exist"}], code="1"),
            ok([{**PLACED[0], "sCode": "51511", "sMsg": "post only"}], code="1"),
            ok([], code="51603", msg="Order does not exist"),
            ok([{**PLACED[0], "sCode": "54321", "sMsg": "something new"}], code="1"),
        ]
    )  # fmt: skip
    gw = OkxGateway(make(Venue(lambda r: next(answers))), SWAP)
    with pytest.raises(VenueError) as e1:
        await gw.place(PLACE)
    assert e1.value.definite and e1.value.kind is RejectKind.INSUFFICIENT_MARGIN
    with pytest.raises(VenueError) as e2:
        await gw.cancel(CancelOrder("mmt1x0", "BTC-USDT-SWAP"))
    assert e2.value.kind is RejectKind.UNKNOWN_ORDER
    with pytest.raises(VenueError) as e3:
        await gw.amend(AmendOrder("mmt1x0", "BTC-USDT-SWAP", Side.BUY, 1037000, 5))
    assert e3.value.kind is RejectKind.WOULD_CROSS
    assert await gw.query("BTC-USDT-SWAP", "mmt1x0") is None  # 51603: no such order
    with pytest.raises(VenueError) as e4:
        await gw.place(PLACE)
    assert e4.value.definite and e4.value.kind is RejectKind.UNKNOWN and e4.value.code == "54321"


async def test_unknown_outcomes_are_never_retried() -> None:
    count = 0

    def respond(r: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        if count == 1:
            return httpx.Response(503, text="<html>bad gateway</html>")
        if count == 2:
            return ok([{**PLACED[0], "sCode": "50004", "sMsg": "timeout"}], code="1")
        raise httpx.ReadTimeout("slow")

    gw = OkxGateway(make(Venue(respond)), SWAP)
    for _ in range(3):
        with pytest.raises(OutcomeUnknownError):
            await gw.place(PLACE)
    assert count == 3  # one request each: a place is never sent twice


async def test_rate_limit_holds_the_order_ops_for_a_window(autojump_clock: trio.abc.Clock) -> None:
    venue = Venue(lambda r: httpx.Response(429, json={"code": "50011", "msg": "Too Many Requests"}))
    gw = OkxGateway(make(venue), SWAP)
    with pytest.raises(RateLimited):
        await gw.place(PLACE)
    sent = len(venue.requests)
    with pytest.raises(RateLimited, match="not sent"):
        await gw.cancel(CancelOrder("mmt1x0", "BTC-USDT-SWAP"))
    assert len(venue.requests) == sent  # blocked locally: nothing left
    await trio.sleep(2.1)
    venue.respond = lambda r: ok([{**PLACED[0], "sCode": "0"}])
    await gw.cancel(CancelOrder("mmt1x0", "BTC-USDT-SWAP"))


async def test_wrong_passphrase_is_an_auth_stop_naming_the_fix() -> None:
    venue = Venue(
        lambda r: httpx.Response(
            401, json={"code": "50105", "msg": "OK-ACCESS-PASSPHRASE incorrect"}
        )
    )
    with pytest.raises(AuthError) as err:
        await make(venue).account_config()
    assert "MMTRIO_PASSPHRASE" in str(err.value) and err.value.source == "MMTRIO_API_KEY"
    assert "the-passphrase" not in str(err.value) and SECRET not in str(err.value)


def _order(cid: str, oid: int) -> dict[str, str]:
    return {"instId": "BTC-USDT-SWAP", "ordId": str(oid), "clOrdId": cid, "side": "sell",
            "ordType": "post_only", "px": "103700.0", "sz": "0.05", "accFillSz": "0",
            "state": "live", "reduceOnly": "false", "uTime": "1700000000000"}  # fmt: skip


async def test_cancel_all_lists_then_cancels_in_batches_of_20() -> None:
    pending = [_order(f"mmt1x{i:x}", 1000 + i) for i in range(25)]
    batches: list[list[dict[str, str]]] = []

    def respond(r: httpx.Request) -> httpx.Response:
        if r.url.path == "/api/v5/trade/orders-pending":
            return ok(pending)
        assert r.url.path == "/api/v5/trade/cancel-batch-orders"
        args = json.loads(r.content)
        batches.append(args)
        # One was already gone: not a failure of cancel-all.
        return ok([{"clOrdId": a["clOrdId"], "ordId": "", "sCode": "51401" if a is args[0] and
                    len(batches) == 1 else "0", "sMsg": ""} for a in args], code="2")  # fmt: skip

    await OkxGateway(make(Venue(respond)), SWAP).cancel_all("BTC-USDT-SWAP")
    assert [len(b) for b in batches] == [20, 5]


async def test_fills_page_back_past_the_watermark() -> None:
    def fill(trade: int) -> dict[str, str]:
        return {"instId": "BTC-USDT-SWAP", "tradeId": str(trade), "ordId": "1", "clOrdId": "c",
                "billId": str(10_000 + trade), "fillPx": "100000.0", "fillSz": "0.01",
                "side": "buy", "execType": "M", "feeCcy": "USDT", "fee": "-0.01",
                "ts": "1", "fillTime": "1"}  # fmt: skip

    pages = {
        None: [fill(t) for t in range(300, 200, -1)],
        "10201": [fill(t) for t in range(200, 150, -1)],
    }
    asked: list[str | None] = []

    def respond(r: httpx.Request) -> httpx.Response:
        after = r.url.params.get("after")
        asked.append(after)
        return ok(pages[after])

    fills = await OkxGateway(make(Venue(respond)), SWAP).user_trades("BTC-USDT-SWAP", 180)
    assert asked == [None, "10201"]
    assert [f.trade_id for f in fills] == list(range(180, 301))
    assert fills[0].fee == Decimal("0.01")


def one_per_second() -> Callable[[httpx.Request], httpx.Response]:
    """cancel-all-after as OKX limits it: a second call within a second is a 429."""
    last: list[float] = []

    def respond(request: httpx.Request) -> httpx.Response:
        now = trio.current_time()
        if last and now - last[-1] < 1.0:
            return httpx.Response(429, json={"code": "50011", "msg": "Too Many Requests"})
        last.append(now)
        return ok([{"triggerTime": "1", "tag": "", "ts": "1"}])

    return respond


async def test_deadman_whole_seconds_in_okx_range(autojump_clock: trio.abc.Clock) -> None:
    venue = Venue(one_per_second())
    gw = OkxGateway(make(venue), SWAP)
    await gw.arm_deadman("BTC-USDT-SWAP", 30_500)
    assert json.loads(venue.requests[-1].content) == {"timeOut": "30"}
    await gw.arm_deadman("BTC-USDT-SWAP", 0)
    assert json.loads(venue.requests[-1].content) == {"timeOut": "0"}
    with pytest.raises(ConfigError, match="deadman_countdown_ms"):
        await gw.arm_deadman("BTC-USDT-SWAP", 5_000)
    with pytest.raises(ConfigError, match=r"10\.\.120"):
        await gw.arm_deadman("BTC-USDT-SWAP", 600_000)


async def test_deadman_calls_keep_to_one_per_second(autojump_clock: trio.abc.Clock) -> None:
    # A stop right after the start disarms just after the first arm: spaced, never a 429.
    venue = Venue(one_per_second())
    gw = OkxGateway(make(venue), SWAP)
    for countdown in (30_000, 0, 30_000, 30_000, 0):
        await gw.arm_deadman("BTC-USDT-SWAP", countdown)
    timeouts = [json.loads(r.content)["timeOut"] for r in venue.requests]
    assert timeouts == ["30", "0", "30", "30", "0"]


class DeadmanVenue:
    """cancel-all-after as OKX (and the simulated venue) counts it: one call a second, a call
    refused with an error having no effect and using nothing; ``refuse`` names the calls
    (1-based) answered with a 5xx, ``hang`` those that never get an answer."""

    def __init__(self, refuse: set[int], hang: set[int] | None = None) -> None:
        self.refuse, self.hang = refuse, hang or set()
        self.calls: list[tuple[float, int]] = []  # (time, status)
        self.armed: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = trio.current_time()
        n = len(self.calls) + 1
        if n in self.hang:
            self.calls.append((now, 0))
            raise httpx.ReadTimeout("no answer", request=request)
        if n in self.refuse:
            status = 500
        elif self.armed and now - self.armed[-1] < 1.0:
            status = 429
        else:
            status = 200
            self.armed.append(now)
        self.calls.append((now, status))
        if status == 500:
            return httpx.Response(500, json={"code": "50026", "msg": "System error"})
        if status == 429:
            return httpx.Response(429, json={"code": "50011", "msg": "Too Many Requests"})
        return ok([{"triggerTime": "1", "tag": "", "ts": "1"}])


async def test_a_refused_deadman_refresh_is_tried_again_at_the_retry_pace(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Chaos seeds 33211, 33231 (invariant 11): the venue answered a refresh with a 500; the
    # retry a quarter second later was held a whole second behind that refused call, so its
    # half-second attempt ended before it left ("no answer within 0.5 s"), the link went
    # silent 0.75 s after the 500, and OKX's 10 s countdown fired on the live bot.
    from mmtrio.runtime.deadman import deadman_heartbeat, retry_delay

    venue = DeadmanVenue(refuse={3})  # the first arm, a refresh, then a refused refresh
    gw = OkxGateway(make(Venue(venue)), SWAP)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(
                deadman_heartbeat, gw, SWAP.symbol, 10_000, 1_000, disarm_on_exit=False
            )
        )
        await trio.sleep(4.0)
        nursery.cancel_scope.cancel()
    refused_at = venue.calls[2][0]
    after = [t for t, status in venue.calls if t > refused_at]
    assert after and after[0] - refused_at <= retry_delay(1.0) + 0.01
    assert venue.armed[2] == after[0]  # it went out, and it armed
    assert all(status != 429 for _, status in venue.calls)


async def test_a_deadman_call_without_an_answer_still_spaces_the_next(
    autojump_clock: trio.abc.Clock,
) -> None:
    # A call that left and got no answer may yet reach OKX, or did and lost its answer: it
    # may have used the second, so the next one keeps to the spacing.
    venue = DeadmanVenue(refuse=set(), hang={1, 2})  # the client tries a lost read once more
    gw = OkxGateway(make(Venue(venue)), SWAP)
    with pytest.raises(OutcomeUnknownError):
        await gw.arm_deadman(SWAP.symbol, 30_000)
    failed_at = trio.current_time()
    await gw.arm_deadman(SWAP.symbol, 30_000)
    assert venue.calls[-1][1] == 200 and venue.calls[-1][0] >= failed_at + 1.0 - 1e-9


async def test_a_deadman_rate_limit_holds_it_for_its_one_second_window(
    autojump_clock: trio.abc.Clock,
) -> None:
    # OKX counts cancel-all-after per second: a 429 on it holds it one second, not the 2 s
    # window of the other endpoints (chaos seed 33231: a refresh refused at 0 waited until
    # 2 s, past the 0.49 s of usable link left after its second ended).
    calls: list[float] = []

    def respond(request: httpx.Request) -> httpx.Response:
        calls.append(trio.current_time())
        if len(calls) == 1:
            return httpx.Response(429, json={"code": "50011", "msg": "Too Many Requests"})
        return ok([{"triggerTime": "1", "tag": "", "ts": "1"}])

    gw = OkxGateway(make(Venue(respond)), SWAP)
    with pytest.raises(RateLimited) as err:
        await gw.arm_deadman(SWAP.symbol, 30_000)
    assert err.value.retry_after_s == 1.0
    await trio.sleep(err.value.retry_after_s)
    await gw.arm_deadman(SWAP.symbol, 30_000)  # the window is over: it goes out
    assert len(calls) == 2 and calls[1] - calls[0] == pytest.approx(1.0)


async def test_a_rate_limit_holds_only_its_endpoint(autojump_clock: trio.abc.Clock) -> None:
    # OKX counts endpoints apart: a refused dead-man refresh must not hold a cancel.
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v5/trade/cancel-all-after":
            return httpx.Response(429, json={"code": "50011", "msg": "Too Many Requests"})
        return ok([{**PLACED[0], "sCode": "0"}])

    venue = Venue(respond)
    gw = OkxGateway(make(venue), SWAP)
    with pytest.raises(RateLimited):
        await gw.arm_deadman("BTC-USDT-SWAP", 30_000)
    sent = len(venue.requests)
    await gw.cancel(CancelOrder("mmt1x0", "BTC-USDT-SWAP"))  # another endpoint: sent
    assert len(venue.requests) == sent + 1
    with pytest.raises(RateLimited, match="not sent"):  # the refused one waits its window
        await gw.arm_deadman("BTC-USDT-SWAP", 30_000)
    assert len(venue.requests) == sent + 1


async def test_position_net_row() -> None:
    venue = Venue(
        lambda r: ok(
            [
                {
                    "instId": "BTC-USDT-SWAP",
                    "posSide": "net",
                    "pos": "-0.07",
                    "avgPx": "103000.5",
                    "upl": "1",
                    "uTime": "1",
                }
            ]
        )
    )
    assert await OkxGateway(make(venue), SWAP).position("BTC-USDT-SWAP") == (
        -7,
        Decimal("103000.5"),
    )


class FakeSession:
    """The order session's surface the gateway uses: ready, request."""

    def __init__(self, answer: Any) -> None:
        self.ready = True
        self.answer = answer
        self.ops: list[tuple[str, list[dict[str, str]]]] = []

    async def request(self, op: str, args: list[dict[str, str]]) -> Any:
        self.ops.append((op, args))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_order_entry_goes_over_the_socket_and_falls_back_to_rest() -> None:
    from mmtrio.errors import ConnectionFailed
    from mmtrio.venues.okx.codec import OpResult

    venue = Venue(lambda r: ok(PLACED))
    ws = FakeSession(OpResult("m1", "order", "0", "", tuple(PLACED)))
    gw = OkxGateway(make(venue), SWAP, order_session=ws)  # type: ignore[arg-type]
    await gw.place(PLACE)
    assert ws.ops[0][0] == "order" and ws.ops[0][1][0]["clOrdId"] == "mmt1x0"
    assert venue.requests == [] and (gw.sent_ws, gw.sent_rest) == (1, 0)
    ws.ready = False  # socket down: REST carries it
    await gw.place(PLACE)
    assert len(venue.requests) == 1 and gw.sent_rest == 1
    ws.ready, ws.answer = True, ConnectionFailed("closed; not sent")  # could not send: REST
    await gw.place(PLACE)
    assert len(venue.requests) == 2
    ws.answer = OutcomeUnknownError("no answer")  # sent, no answer: unknown, never resent
    with pytest.raises(OutcomeUnknownError):
        await gw.place(PLACE)
    assert len(venue.requests) == 2
    ws.answer = OpResult("m5", "order", "60011", "Please log in", ())  # refused whole: REST
    await gw.place(PLACE)
    assert len(venue.requests) == 3
    ws.answer = OpResult("m6", "order", "1", "", ({**PLACED[0], "sCode": "50011"},))
    with pytest.raises(RateLimited):
        await gw.place(PLACE)
    ws.ready = False
    with pytest.raises(RateLimited, match="not sent"):  # the socket's 429 holds REST's ops too
        await gw.cancel(CancelOrder("mmt1x0", "BTC-USDT-SWAP"))
    assert len(venue.requests) == 3
    # a read is another endpoint (OKX counts each apart): not held
    await gw.rest.request("GET", "/api/v5/trade/orders-pending", [], signed=True)
    assert len(venue.requests) == 4


async def test_leverage_info_is_read_for_the_instrument_and_margin_mode() -> None:
    venue = Venue(lambda r: ok([{"instId": "BTC-USDT-SWAP", "mgnMode": "cross",
                                 "posSide": "net", "lever": "20"}]))  # fmt: skip
    assert await make(venue).leverage("BTC-USDT-SWAP", "cross") == Decimal(20)
    (req,) = [r for r in venue.requests if r.url.path == "/api/v5/account/leverage-info"]
    assert req.url.query == b"instId=BTC-USDT-SWAP&mgnMode=cross"
    assert "OK-ACCESS-SIGN" in req.headers
    assert await make(Venue(lambda r: ok([]))).leverage("BTC-USDT-SWAP", "cross") is None
