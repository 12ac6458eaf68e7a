"""Binance codec: recorded real messages, documented samples, malformed payloads."""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, PlaceOrder
from mmtrio.core.events import (
    AccountUpdate,
    BookDelta,
    BookSnapshot,
    BookTicker,
    ExecType,
    FundingPayment,
    MarkPrice,
    OrderStatus,
    OrderUpdate,
    Side,
    TimeInForce,
    Trade,
)
from mmtrio.core.instruments import BTCUSDT, ETHUSDT
from mmtrio.errors import InstrumentError, ProtocolError
from mmtrio.venues.binance.codec import BinanceDecoder, ListenKeyExpired, TradeLite, UnknownMessage
from mmtrio.venues.binance.codec_market import DepthUpdate
from mmtrio.venues.binance.codec_rest import (
    amend_params,
    cancel_all_params,
    cancel_params,
    parse_account,
    parse_exchange_info,
    parse_open_orders,
    parse_order_ack,
    parse_position_risk,
    place_params,
)
from mmtrio.venues.binance.sequencer import DepthSequencer

DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm"


@pytest.fixture
def dec() -> BinanceDecoder:
    return BinanceDecoder([BTCUSDT])


def _lines(name: str) -> list[bytes]:
    with gzip.open(DATA / name, "rb") as f:
        return [ln.split(b" ", 1)[1] for ln in f.read().splitlines()]


def test_recorded_2023_file_decodes_completely_and_stays_in_sequence() -> None:
    dec = BinanceDecoder([BTCUSDT])
    seq = DepthSequencer(max_buffer=100_000)
    kinds: Counter[str] = Counter()
    forwarded = 0
    snap_id = 0
    after_snap: list[int] = []  # ``u`` of every diff at or after the snapshot
    fwd: Sequence[BookSnapshot | BookDelta]  # a snapshot's answer, then a diff's
    for raw in _lines("btcusdt_20230404.dat.gz"):
        if raw.startswith(b'{"lastUpdateId'):
            snap = dec.decode_snapshot(orjson.loads(raw), "BTCUSDT")
            assert len(snap.bids) == 1000 and snap.bids[0][0] < snap.asks[0][0]
            snap_id = snap.last_update_id
            fwd, gap = seq.on_snapshot(snap)
            assert not gap
            forwarded += len(fwd)
            continue
        for rec in dec.decode(raw):
            kinds[type(rec).__name__] += 1
            if isinstance(rec, DepthUpdate):
                after_snap.append(rec.last_id)
                fwd, gap = seq.on_diff(rec)
                assert not gap
                forwarded += len(fwd)
            elif isinstance(rec, BookTicker):
                assert rec.bid_price < rec.ask_price
    # counts from data/binance-usdm/README.md
    assert kinds == {"DepthUpdate": 4322, "Trade": 2197, "BookTicker": 6765, "MarkPrice": 99}
    # the snapshot, then every diff it does not already contain, and only those
    assert seq.synced and forwarded == 1 + sum(1 for u in after_snap if u >= snap_id)
    assert not dec.unknown


def test_recorded_messages_decode_to_exact_ticks() -> None:
    dec = BinanceDecoder([ETHUSDT, BTCUSDT])
    trade = b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1680652700455,"T":1680652700452,"s":"BTCUSDT","t":3535186032,"p":"28145.10","q":"0.002","X":"MARKET","m":true}}'  # noqa: E501
    (t,) = dec.decode(trade)
    # ts is the event time E, live and recorded alike (the guards compare it with receipt)
    assert t == Trade("BTCUSDT", 3535186032, 281451, 2, True, 1680652700455)
    assert t.aggressor is Side.SELL
    mark = b'{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1680652701000,"s":"BTCUSDT","p":"28147.27373413","P":"28142.15563565","i":"28159.75642857","r":"0.00002754","T":1680652800000}}'  # noqa: E501
    (m,) = dec.decode(mark)
    assert m == MarkPrice(
        "BTCUSDT",
        Decimal("28147.27373413"),
        Decimal("28159.75642857"),
        Decimal("0.00002754"),
        1680652800000,
        1680652701000,
    )
    for raw in _lines("ethusdt_20240808.gz")[:300]:
        if not raw.startswith(b'{"lastUpdateId'):
            (rec,) = dec.decode(raw)
            assert rec.symbol == "ETHUSDT"  # type: ignore[union-attr]


def test_agg_trade(dec: BinanceDecoder) -> None:
    raw = {"e": "aggTrade", "E": 5, "s": "BTCUSDT", "a": 26129, "p": "0.10", "q": "100.000"}
    (t,) = dec.decode_obj({**raw, "f": 100, "l": 105, "T": 4, "m": False})
    assert t == Trade("BTCUSDT", 26129, 1, 100_000, False, 5)


# --- user stream (samples from the Binance USD-M docs, symbol/prices adapted to the grid) --

OTU: dict[str, Any] = {
    "e": "ORDER_TRADE_UPDATE",
    "E": 1568879465651,
    "T": 1568879465650,
    "o": {
        "s": "BTCUSDT",
        "c": "TEST",
        "S": "SELL",
        "o": "LIMIT",
        "f": "GTX",
        "q": "0.001",
        "p": "9910.00",
        "ap": "9910.00",
        "sp": "0",
        "x": "TRADE",
        "X": "FILLED",
        "i": 8886774,
        "l": "0.001",
        "z": "0.001",
        "L": "9910.00",
        "N": "USDT",
        "n": "-0.00198200",
        "T": 1568879465650,
        "t": 113,
        "b": "0",
        "a": "9.91",
        "m": True,
        "R": False,
        "wt": "CONTRACT_PRICE",
        "ot": "LIMIT",
        "ps": "BOTH",
        "cp": False,
        "rp": "0",
        "pP": False,
        "si": 0,
        "ss": 0,
        "V": "NONE",
        "pm": "NONE",
        "gtd": 0,
    },
}


def test_order_trade_update_trade_carries_fill_with_rebate_sign(dec: BinanceDecoder) -> None:
    (u,) = dec.decode(orjson.dumps(OTU))
    assert isinstance(u, OrderUpdate)
    assert (u.exec_type, u.status, u.side) == (ExecType.TRADE, OrderStatus.FILLED, Side.SELL)
    assert (u.price, u.qty, u.cum_qty, u.order_id) == (99100, 1, 1, 8886774)
    assert u.time_in_force is TimeInForce.POST_ONLY and u.ts == 1568879465651
    assert u.fill is not None
    assert u.fill.trade_id == 113 and u.fill.price == 99100 and u.fill.qty == 1
    assert u.fill.fee == Decimal("-0.00198200")  # maker rebate: negative = received
    assert u.fill.is_maker and u.fill.fee_asset == "USDT"


def test_order_trade_update_new_has_no_fill(dec: BinanceDecoder) -> None:
    o = {**OTU["o"], "x": "NEW", "X": "NEW", "l": "0", "z": "0", "L": "0", "t": 0}
    del o["N"], o["n"]  # absent on NEW, as on the venue
    (u,) = dec.decode_obj({**OTU, "o": o})
    assert isinstance(u, OrderUpdate) and u.fill is None and u.exec_type is ExecType.NEW


def test_trade_lite_is_a_feeless_record(dec: BinanceDecoder) -> None:
    raw = {
        "e": "TRADE_LITE", "E": 1721895408092, "T": 1721895408214, "s": "BTCUSDT",
        "q": "0.001", "p": "0", "m": False, "c": "z8hcUoOsqEdKMeKPSABslD", "S": "BUY",
        "L": "64089.20", "l": "0.001", "t": 109100866, "i": 8886774,
    }  # fmt: skip
    (t,) = dec.decode_obj(raw)
    assert t == TradeLite(
        "BTCUSDT", 109100866, "z8hcUoOsqEdKMeKPSABslD", 8886774, Side.BUY, 640892, 1, False,
        1721895408214,
    )  # fmt: skip


def test_account_update_and_funding(dec: BinanceDecoder) -> None:
    raw: dict[str, Any] = {
        "e": "ACCOUNT_UPDATE", "E": 1564745798939, "T": 1564745798938,
        "a": {
            "m": "FUNDING_FEE",
            "B": [{"a": "USDT", "wb": "122624.12345678", "cw": "100.12345678",
                   "bc": "-50.12345678"}],
            "P": [
                {"s": "BTCUSDT", "pa": "-0.020", "ep": "9000.0", "cr": "200", "up": "0.2",
                 "mt": "isolated", "iw": "0.0", "ps": "BOTH"},
                {"s": "DOGEUSDT", "pa": "5", "ep": "0.1", "up": "0", "mt": "cross", "ps": "BOTH"},
            ],
        },
    }  # fmt: skip
    acct, pay = dec.decode_obj(raw)
    assert isinstance(acct, AccountUpdate) and acct.reason == "FUNDING_FEE"
    assert acct.balances[0].balance_change == Decimal("-50.12345678")
    assert [(p.symbol, p.amount) for p in acct.positions] == [("BTCUSDT", -20)]  # DOGE not ours
    assert isinstance(pay, FundingPayment)
    # two symbols listed: the payment is not guessed onto one of them
    assert pay.amount == Decimal("-50.12345678") and pay.symbol == ""
    cross = {**raw, "a": {"m": "FUNDING_FEE", "B": raw["a"]["B"]}}  # cross margin: no P
    _, pay2 = dec.decode_obj(cross)
    assert isinstance(pay2, FundingPayment) and pay2.symbol == "BTCUSDT"
    order = {**raw, "a": {"m": "ORDER", "B": raw["a"]["B"], "P": raw["a"]["P"][:1]}}
    assert len(dec.decode_obj(order)) == 1


def test_listen_key_expired_int_or_string_time(dec: BinanceDecoder) -> None:
    assert dec.decode_obj({"e": "listenKeyExpired", "E": 1576653824250}) == [
        ListenKeyExpired(None, 1576653824250)
    ]
    (r,) = dec.decode_obj({"e": "listenKeyExpired", "E": "1736996475556", "listenKey": "K"})
    assert r == ListenKeyExpired("K", 1736996475556)


def test_unknown_event_is_counted_not_fatal(dec: BinanceDecoder) -> None:
    for _ in range(3):
        (r,) = dec.decode(b'{"e":"STRATEGY_UPDATE","E":1}')
        assert isinstance(r, UnknownMessage) and r.event_type == "STRATEGY_UPDATE"
    assert dec.unknown["STRATEGY_UPDATE"] == 3


# --- malformed payloads -----------------------------------------------------------------------

DEPTH = {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": 1, "u": 2, "pu": 0,
         "b": [["100.10", "1.000"]], "a": [["100.20", "0.000"]]}  # fmt: skip


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"u": None}, "depthUpdate: field 'u' must be an integer"),
        ({"U": True}, "field 'U' must be an integer"),
        ({"b": [["100.15", "1.000"]]}, "depthUpdate: field 'b'"),  # off-grid price
        ({"a": [["100.20", "0.0005"]]}, "field 'a'"),  # off-grid qty
        ({"b": [["100.10"]]}, "list of [price, qty] pairs"),
        ({"b": [[100.1, "1.000"]]}, "list of [price, qty] pairs"),  # floats are refused
        ({"s": "XRPUSDT"}, "symbol 'XRPUSDT' is not one this connector trades"),
    ],
)
def test_malformed_depth_names_kind_and_field(
    dec: BinanceDecoder, patch: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ProtocolError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        dec.decode_obj({**DEPTH, **patch})


def test_missing_field_and_bad_json(dec: BinanceDecoder) -> None:
    no_pu = {k: v for k, v in DEPTH.items() if k != "pu"}
    with pytest.raises(ProtocolError, match="depthUpdate: missing field 'pu'"):
        dec.decode_obj(no_pu)
    with pytest.raises(ProtocolError, match="not valid JSON"):
        dec.decode(b"{nope")
    with pytest.raises(ProtocolError, match="expected a JSON object"):
        dec.decode(b"[1]")
    with pytest.raises(ProtocolError, match="'e'"):
        dec.decode(b'{"x":1}')
    bad_fill = {**OTU, "o": {**OTU["o"], "L": "9910.05"}}
    with pytest.raises(ProtocolError, match="ORDER_TRADE_UPDATE: field 'L'"):
        dec.decode_obj(bad_fill)
    bad_status = {**OTU, "o": {**OTU["o"], "X": "WEIRD"}}
    with pytest.raises(ProtocolError, match="field 'X' is 'WEIRD'"):
        dec.decode_obj(bad_status)
    with pytest.raises(ProtocolError, match="ACCOUNT_UPDATE: field 'a' must be an object"):
        dec.decode_obj({"e": "ACCOUNT_UPDATE", "E": 1, "a": []})


# --- serialisation and REST answers ------------------------------------------------------------


def test_command_params() -> None:
    place = PlaceOrder("mm-1:a/b", "BTCUSDT", Side.BUY, 281451, 12, TimeInForce.POST_ONLY, True)
    assert place_params(place, BTCUSDT) == [
        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTX"),
        ("quantity", "0.012"), ("price", "28145.10"), ("newClientOrderId", "mm-1:a/b"),
        ("newOrderRespType", "ACK"), ("reduceOnly", "true"),
    ]  # fmt: skip
    assert ("reduceOnly", "true") not in place_params(
        PlaceOrder("x", "BTCUSDT", Side.SELL, 281451, 12), BTCUSDT
    )
    assert amend_params(AmendOrder("x", "BTCUSDT", Side.SELL, 281452, 3), BTCUSDT) == [
        ("symbol", "BTCUSDT"), ("origClientOrderId", "x"), ("side", "SELL"),
        ("quantity", "0.003"), ("price", "28145.20"),
    ]  # fmt: skip
    assert cancel_params(CancelOrder("x", "BTCUSDT")) == [
        ("symbol", "BTCUSDT"),
        ("origClientOrderId", "x"),
    ]
    assert cancel_all_params(CancelAll("BTCUSDT", "stop")) == [("symbol", "BTCUSDT")]
    with pytest.raises(ProtocolError, match="client order id"):
        place_params(PlaceOrder("bad id!", "BTCUSDT", Side.BUY, 281451, 1), BTCUSDT)
    with pytest.raises(InstrumentError):
        place_params(PlaceOrder("x", "BTCUSDT", Side.BUY, 0, 1), BTCUSDT)


EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": 1723161256000,
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
    ],
    "symbols": [
        {
            "symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "261.10", "maxPrice": "809860",
                 "tickSize": "0.10"},
                {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000",
                 "stepSize": "0.001"},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120",
                 "stepSize": "0.001"},
                {"filterType": "MIN_NOTIONAL", "notional": "100"},
            ],
        },
        {"symbol": "WEIRDUSDT", "filters": []},
    ],
}  # fmt: skip


def test_exchange_info_gives_the_shipped_instrument() -> None:
    info = parse_exchange_info(EXCHANGE_INFO, {"BTCUSDT"})
    # minPrice 261.10 / tick 0.10 = 2611 ticks (core/instruments.py says 2615; reported)
    assert info.instruments["BTCUSDT"] == replace(BTCUSDT, min_price_ticks=2611)
    assert {w.name: w.limit for w in info.rate_limits.windows} == {
        "weight_1m": 2400,
        "orders_10s": 300,
        "orders_1m": 1200,
    }
    assert info.rate_limits.orders_per_minute == 1200
    with pytest.raises(ProtocolError, match="WEIRDUSDT: filter PRICE_FILTER is missing"):
        parse_exchange_info(EXCHANGE_INFO)
    with pytest.raises(ProtocolError, match="not listed by the venue: ETHUSDT"):
        parse_exchange_info(EXCHANGE_INFO, {"BTCUSDT", "ETHUSDT"})


def test_rest_answers(dec: BinanceDecoder) -> None:
    order = {
        "avgPrice": "0.00000", "clientOrderId": "abc", "cumQuote": "0", "executedQty": "0.002",
        "orderId": 1917641, "origQty": "0.040", "origType": "LIMIT", "price": "28145.10",
        "reduceOnly": False, "side": "BUY", "positionSide": "BOTH", "status": "PARTIALLY_FILLED",
        "stopPrice": "0", "closePosition": False, "symbol": "BTCUSDT", "time": 1579276756075,
        "timeInForce": "GTX", "type": "LIMIT", "updateTime": 1579276756075,
    }  # fmt: skip
    (st,) = parse_open_orders([order], dec.codec_for)
    assert (st.price, st.qty, st.cum_qty, st.status) == (
        281451, 40, 2, OrderStatus.PARTIALLY_FILLED,
    )  # fmt: skip
    ack = parse_order_ack(
        {"orderId": 7, "clientOrderId": "abc", "symbol": "BTCUSDT"}, dec.codec_for
    )
    assert (ack.order_id, ack.status, ack.ts) == (7, None, None)
    risk = [
        {"symbol": "BTCUSDT", "positionAmt": "-0.015", "entryPrice": "28000.0",
         "markPrice": "28100.5", "unRealizedProfit": "-1.5075"},
        {"symbol": "ETHUSDT", "positionAmt": "1.000", "entryPrice": "1", "markPrice": "1",
         "unRealizedProfit": "0"},
    ]  # fmt: skip
    (p,) = parse_position_risk(risk, dec.codec_for)
    assert p.amount == -15 and p.as_update().unrealized_pnl == Decimal("-1.5075")
    acct = parse_account(
        {
            "assets": [{"asset": "USDT", "walletBalance": "10", "availableBalance": "9",
                        "unrealizedProfit": "1"}],
            "positions": [{"symbol": "BTCUSDT", "positionAmt": "0.001", "entryPrice": "1",
                           "unrealizedProfit": "0"}],
        },
        dec.codec_for,
    )  # fmt: skip
    assert acct.assets[0].available_balance == 9 and acct.positions[0].amount == 1
