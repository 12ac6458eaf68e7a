"""The Extended gateway and REST client against a scripted HTTP transport.

The transport checks what a real Extended checks of an order (its Stark signature against
the account's public key, recomputed from the order's own fields), and answers errors in
Extended's shape, so the mapping to neutral errors is exercised end to end.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from mmtrio.core.commands import CancelOrder, PlaceOrder
from mmtrio.core.events import OrderStatus, Side, TimeInForce
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import AuthError, OutcomeUnknownError, RateLimited, VenueError
from mmtrio.venues.extended import codec
from mmtrio.venues.extended.gateway import ExtendedGateway, KnownOrders
from mmtrio.venues.extended.nonces import NonceAllocator
from mmtrio.venues.extended.rest import ExtendedRest
from mmtrio.venues.extended.signing import (
    TESTNET_DOMAIN,
    StarkKey,
    order_hash,
    settlement_amounts,
    settlement_expiration_s,
    stark_crypto,
    verify,
)
from tests.unit.test_extended_signing import BTC_USD, PRIVATE, sdk_market_json


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"status": "OK", "data": data})


def err(status: int, code: Any, message: str = "no") -> httpx.Response:
    return httpx.Response(
        status, json={"status": "ERROR", "error": {"code": code, "message": message}}
    )


class FakeExtended:
    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []
        self.script: list[httpx.Response] = []  # answers for the next order requests
        self.deadman: list[str] = []
        self.trades: list[dict[str, Any]] = []
        self.seen_headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen_headers.append(request.headers)
        path = request.url.path.removeprefix("/api/v1")
        if path == "/info/markets":
            return ok([sdk_market_json()])
        if path == "/user/fees":
            return ok([{"market": "BTC-USD", "makerFeeRate": "0.0002", "takerFeeRate": "0.0005"}])
        if path == "/user/deadmanswitch":
            self.deadman.append(request.url.params["countdownTime"])
            return ok(None)
        if path.startswith("/user/orders/external/"):
            return err(404, "NOT_FOUND", "Order not found")
        if path == "/user/trades":
            cursor = request.url.params.get("cursor")
            limit = int(request.url.params["limit"])
            rows = sorted(self.trades, key=lambda t: -t["id"])
            if cursor is not None:
                rows = [t for t in rows if t["id"] < int(cursor)]
            return ok(rows[:limit])
        if self.script:
            return self.script.pop(0)
        if path == "/user/order" and request.method == "POST":
            body = json.loads(request.content)
            if not self.signature_ok(body):
                return err(400, 1101, "Invalid StarkEx signature")
            self.orders.append(body)
            return ok({"id": 1000 + len(self.orders), "externalId": body["id"]})
        if path == "/user/order" and request.method == "DELETE":
            return ok(None)
        return httpx.Response(404)

    def signature_ok(self, body: dict[str, Any]) -> bool:
        st = body["settlement"]
        public = int(st["starkKey"], 16)
        synthetic, collateral, fee = settlement_amounts(
            body["side"],
            Decimal(body["qty"]),
            Decimal(body["price"]),
            Decimal(body["fee"]),
            BTC_USD,
        )
        digest = order_hash(
            stark_crypto(), vault=int(st["collateralPosition"]), l2=BTC_USD,
            synthetic_amount=synthetic, collateral_amount=collateral, fee_amount=fee,
            expiration_s=settlement_expiration_s(body["expiryEpochMillis"]),
            nonce=int(body["nonce"]), public_key=public, domain=TESTNET_DOMAIN,
        )  # fmt: skip
        sig = st["signature"]
        return verify(public, digest, int(sig["r"], 16), int(sig["s"], 16))


async def make(tmp_path: Path) -> tuple[ExtendedGateway, FakeExtended]:
    fake = FakeExtended()
    rest = ExtendedRest(
        "http://venue.test", "k" * 32, clock_ms=lambda: 1_700_000_000_000,
        transport=httpx.MockTransport(fake),
    )  # fmt: skip
    market = await rest.market("BTC-USD")
    fees = codec.parse_fees(await rest.fees("BTC-USD"), "BTC-USD")
    key = StarkKey(PRIVATE, 10002, TESTNET_DOMAIN)
    gw = ExtendedGateway(
        rest, market, key, NonceAllocator(tmp_path), fees, KnownOrders(), rest.timestamp_ms
    )
    return gw, fake


def place(cid: str, side: Side = Side.BUY, tif: TimeInForce = TimeInForce.POST_ONLY) -> PlaceOrder:
    return PlaceOrder(cid, "BTC-USD", side, 600_001, 1_000, tif)  # 60000.1 × 0.01000


async def test_place_sends_a_signed_post_only_order(tmp_path: Path) -> None:
    gw, fake = await make(tmp_path)
    ack = await gw.place(place("mmt1-0"))
    assert ack.client_id == "mmt1-0" and ack.order_id == 1001 and ack.status is OrderStatus.NEW
    body = fake.orders[0]
    assert body["market"] == "BTC-USD" and body["type"] == "LIMIT" and body["side"] == "BUY"
    assert body["qty"] == "0.01000" and body["price"] == "60000.1"
    assert body["postOnly"] is True and body["timeInForce"] == "GTT"
    assert body["fee"] == "0.0002"  # the maker fee for a post-only order
    assert body["expiryEpochMillis"] == 1_700_000_000_000 + 3_600_000
    assert body["settlement"]["collateralPosition"] == "10002"
    assert "cancelId" not in body
    await gw.place(place("mmt1-1", Side.SELL, TimeInForce.IOC))
    second = fake.orders[1]
    assert second["timeInForce"] == "IOC" and second["postOnly"] is False
    assert second["fee"] == "0.0005"
    assert int(second["nonce"]) == int(body["nonce"]) + 1
    headers = fake.seen_headers[-1]
    assert headers["x-api-key"] == "k" * 32 and headers["user-agent"].startswith("mmtrio/")


@pytest.mark.parametrize(
    ("answer", "error", "kind"),
    [
        (err(400, 1121, "Invalid quantity"), VenueError, RejectKind.INVALID_SIZE),
        (err(400, 1124, "Invalid price"), VenueError, RejectKind.INVALID_PRICE),
        (err(400, 1140, "cost exceeds balance"), VenueError, RejectKind.INSUFFICIENT_MARGIN),
        (err(400, 1101, "Invalid StarkEx signature"), AuthError, RejectKind.AUTH),
        (err(401, None, "Unauthorized"), AuthError, RejectKind.AUTH),
        (err(400, 1001, "Market not found"), VenueError, RejectKind.UNKNOWN),
        (err(400, 99999, "new"), VenueError, RejectKind.UNKNOWN),
        (httpx.Response(200, json={"status": "ERROR", "error": {"code": 1134}}), VenueError,
         RejectKind.UNKNOWN),
        (httpx.Response(503, text="busy"), OutcomeUnknownError, RejectKind.UNKNOWN),
        (httpx.Response(200, text="<html>"), OutcomeUnknownError, RejectKind.UNKNOWN),
    ],
)  # fmt: skip
async def test_place_errors_are_neutral(
    tmp_path: Path, answer: httpx.Response, error: type[Exception], kind: RejectKind
) -> None:
    gw, fake = await make(tmp_path)
    fake.script.append(answer)
    with pytest.raises(error) as caught:
        await gw.place(place("mmt1-0"))
    assert isinstance(caught.value, VenueError) and caught.value.kind is kind
    assert caught.value.definite is not isinstance(caught.value, OutcomeUnknownError)


async def test_a_429_blocks_every_request_until_it_passes(
    tmp_path: Path, autojump_clock: object
) -> None:
    gw, fake = await make(tmp_path)
    fake.script.append(httpx.Response(429, headers={"Retry-After": "2"}, json={}))
    with pytest.raises(RateLimited):
        await gw.place(place("mmt1-0"))
    sent = len(fake.seen_headers)
    with pytest.raises(RateLimited, match="not sent"):
        await gw.cancel(CancelOrder("mmt1-0", "BTC-USD"))
    assert len(fake.seen_headers) == sent
    await trio.sleep(2.1)
    await gw.cancel(CancelOrder("mmt1-0", "BTC-USD"))


async def test_query_of_an_unknown_order_is_none(tmp_path: Path) -> None:
    gw, _ = await make(tmp_path)
    assert await gw.query("BTC-USD", "mmt9-9") is None


async def test_user_trades_pages_back_to_from_id(tmp_path: Path) -> None:
    gw, fake = await make(tmp_path)
    await gw.place(place("mmt1-0"))
    fake.trades = [
        {"id": i, "accountId": 1, "market": "BTC-USD", "orderId": 1001, "side": "BUY",
         "price": "60000.1", "qty": "0.00001", "value": "0.6", "fee": "0.0001",
         "isTaker": False, "tradeType": "TRADE", "createdTime": 1000 + i}
        for i in range(1, 251)
    ]  # fmt: skip
    fills = await gw.user_trades("BTC-USD", 20)
    assert [f.trade_id for f in fills] == list(range(20, 251))
    assert {f.client_id for f in fills} == {"mmt1-0"}  # REST names only orderId
    assert all(f.is_maker and f.fee == Decimal("0.0001") for f in fills)
    recent = await gw.user_trades("BTC-USD", None)
    assert [f.trade_id for f in recent] == list(range(151, 251))


async def test_deadman_is_armed_in_whole_seconds(tmp_path: Path) -> None:
    gw, fake = await make(tmp_path)
    await gw.arm_deadman("BTC-USD", 30_000)
    await gw.arm_deadman("BTC-USD", 1_500)
    await gw.arm_deadman("BTC-USD", 0)
    assert fake.deadman == ["30", "2", "0"]
