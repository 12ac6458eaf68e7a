"""Decoder edge cases found by independent testing (issue #20, finding 6).

Each input here once escaped the codec as something other than a named ``mmtrio.errors``
error, or was accepted although no venue could have sent it:

- ``"²"`` passes ``str.isdigit()`` and then fails ``int()`` with a ValueError (countdown
  answers, ``listenKeyExpired`` ``E``, the X-MBX-* usage headers);
- a countdown answer that is not an object raised AttributeError;
- negative depth, trade and fill quantities, and a fill larger than its order, were accepted.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mmtrio.core.commands import PlaceOrder
from mmtrio.core.events import Side
from mmtrio.core.instruments import BTCUSDT
from mmtrio.errors import ProtocolError
from mmtrio.venues.binance.codec import BinanceDecoder
from mmtrio.venues.binance.codec_rest import (
    parse_countdown,
    parse_open_orders,
    parse_user_trades,
)
from mmtrio.venues.binance.rest import BinanceRest
from mmtrio.venues.binance.signing import Signer
from tests.unit.test_binance_codec import DEPTH, OTU


@pytest.fixture
def dec() -> BinanceDecoder:
    return BinanceDecoder([BTCUSDT])


@pytest.mark.parametrize("text", ["²", "١٢", "12a", "", "-5", " 7"])
def test_countdown_time_that_is_not_ascii_digits_is_a_protocol_error(text: str) -> None:
    with pytest.raises(ProtocolError, match="countdownCancelAll: field 'countdownTime'"):
        parse_countdown({"symbol": "BTCUSDT", "countdownTime": text})


def test_countdown_time_as_a_digit_string_or_int_is_read() -> None:
    assert parse_countdown({"symbol": "BTCUSDT", "countdownTime": "30000"}) == 30_000
    assert parse_countdown({"symbol": "BTCUSDT", "countdownTime": 0}) == 0


@pytest.mark.parametrize("body", [[1, 2], "30000", None, 30000])
def test_countdown_body_that_is_not_an_object_is_a_protocol_error(body: Any) -> None:
    with pytest.raises(ProtocolError, match="countdownCancelAll: payload is"):
        parse_countdown(body)


def test_listen_key_expired_time_in_unicode_digits_is_a_protocol_error(
    dec: BinanceDecoder,
) -> None:
    with pytest.raises(ProtocolError, match="listenKeyExpired: field 'E'"):
        dec.decode_obj({"e": "listenKeyExpired", "E": "²", "listenKey": "K"})


async def test_usage_header_in_unicode_digits_is_ignored_not_a_crash() -> None:
    seen: list[dict[str, int | None]] = []
    ack = {"orderId": 1, "clientOrderId": "mm-1", "symbol": "BTCUSDT", "status": "NEW"}

    def venue(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/fapi/v1/time":
            return httpx.Response(200, json={"serverTime": 1})
        # raw header bytes, as a server (or a proxy) may send them
        headers = [(b"X-MBX-USED-WEIGHT-1M", "²".encode()), (b"X-MBX-ORDER-COUNT-10S", b"3")]
        return httpx.Response(200, json=ack, headers=headers)

    rest = BinanceRest(
        "http://venue.test",
        BinanceDecoder([BTCUSDT]),
        signer=Signer("key", "secret"),
        on_usage=seen.append,
        clock_ms=lambda: 1,
        transport=httpx.MockTransport(venue),
    )
    async with rest:
        got = await rest.place_order(PlaceOrder("mm-1", "BTCUSDT", Side.BUY, 281451, 2))
    assert got.order_id == 1
    # the unreadable header is absent, the others read
    assert list(seen[-1].values()) == [None, 3, None]


@pytest.mark.parametrize(
    ("side", "level", "needle"),
    [
        ("b", ["100.10", "-1.000"], "depthUpdate: field 'b'.*negative"),
        ("a", ["100.20", "-0.001"], "depthUpdate: field 'a'.*negative"),
        ("b", ["-100.10", "1.000"], "depthUpdate: field 'b'.*price"),
        ("a", ["0.00", "1.000"], "depthUpdate: field 'a'.*price"),
    ],
)
def test_depth_level_with_negative_size_or_price_is_refused(
    dec: BinanceDecoder, side: str, level: list[str], needle: str
) -> None:
    with pytest.raises(ProtocolError, match=needle):
        dec.decode_obj({**DEPTH, side: [level]})


def test_depth_snapshot_with_a_negative_size_is_refused(dec: BinanceDecoder) -> None:
    snap = {"lastUpdateId": 5, "E": 1, "T": 1, "bids": [["100.10", "-2.000"]], "asks": []}
    with pytest.raises(ProtocolError, match=r"depth snapshot: field 'bids'.*negative"):
        dec.decode_snapshot(snap, "BTCUSDT")


@pytest.mark.parametrize("kind", ["trade", "aggTrade"])
@pytest.mark.parametrize("qty", ["-0.001", "0.000"])
def test_public_trade_with_a_size_that_is_not_positive_is_refused(
    dec: BinanceDecoder, kind: str, qty: str
) -> None:
    raw = {"e": kind, "E": 5, "s": "BTCUSDT", "t": 1, "a": 1, "p": "100.10", "q": qty,
           "T": 4, "m": False}  # fmt: skip
    with pytest.raises(ProtocolError, match=f"{kind}: field 'q' must be positive"):
        dec.decode_obj(raw)


def _otu(**o: Any) -> dict[str, Any]:
    return {**OTU, "o": {**OTU["o"], **o}}


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"l": "-0.001"}, "field 'l' must be positive"),
        ({"l": "0.000"}, "field 'l' must be positive"),
        ({"q": "-0.001"}, "field 'q' must not be negative"),
        ({"z": "-0.001"}, "field 'z' must not be negative"),
        # the finding: a 5,000-lot fill on a 2-lot order
        ({"q": "0.002", "l": "5.000", "z": "5.000"}, "fill of 5000 lots .* order of 2 lots"),
        ({"q": "0.002", "l": "0.002", "z": "0.003"}, "filled 3 lots .* order of 2 lots"),
        ({"q": "0.005", "l": "0.004", "z": "0.003"}, "last fill 4 lots .* filled 3 lots"),
    ],
)
def test_order_trade_update_with_impossible_quantities_is_refused(
    dec: BinanceDecoder, patch: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ProtocolError, match="ORDER_TRADE_UPDATE: " + needle):
        dec.decode_obj(_otu(**patch))


def test_trade_lite_with_a_negative_fill_is_refused(dec: BinanceDecoder) -> None:
    raw = {
        "e": "TRADE_LITE", "E": 1, "T": 2, "s": "BTCUSDT", "q": "0.001", "p": "0",
        "m": False, "c": "x", "S": "BUY", "L": "64089.20", "l": "-0.001", "t": 1, "i": 2,
    }  # fmt: skip
    with pytest.raises(ProtocolError, match="TRADE_LITE: field 'l' must be positive"):
        dec.decode_obj(raw)


def test_user_trade_with_a_negative_qty_is_refused(dec: BinanceDecoder) -> None:
    trade = {
        "symbol": "BTCUSDT", "id": 1, "orderId": 2, "side": "BUY", "price": "100.10",
        "qty": "-0.001", "commission": "0", "commissionAsset": "USDT", "time": 1,
        "buyer": True, "maker": True,
    }  # fmt: skip
    with pytest.raises(ProtocolError, match="userTrades: field 'qty' must be positive"):
        parse_user_trades([trade], dec.codec_for)


def test_order_state_filled_beyond_its_quantity_is_refused(dec: BinanceDecoder) -> None:
    order = {
        "symbol": "BTCUSDT", "clientOrderId": "c", "orderId": 1, "side": "BUY",
        "status": "FILLED", "price": "100.10", "origQty": "0.002", "executedQty": "5.000",
        "avgPrice": "100.10", "timeInForce": "GTC", "reduceOnly": False, "updateTime": 1,
    }  # fmt: skip
    with pytest.raises(ProtocolError, match=r"order: filled 5000 lots .* order of 2 lots"):
        parse_open_orders([order], dec.codec_for)
