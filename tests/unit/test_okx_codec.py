"""OKX codec golden frames: pushes and answers written from OKX's documented examples.

Each frame follows the example of the OKX v5 documentation for that channel or endpoint
(the field set and value styles as documented: numbers as strings, ``""`` for "not
applicable", ``seqId``/``prevSeqId``/``checksum`` as integers), with ``instId`` set to the
instrument under test. The expected neutral events are written out by hand.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from mmtrio.core.commands import AmendOrder, CancelOrder, PlaceOrder
from mmtrio.core.events import (
    AccountUpdate,
    ExecType,
    Fill,
    FundingPayment,
    MarkPrice,
    OrderStatus,
    OrderUpdate,
    Side,
    TimeInForce,
    Trade,
)
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError, ProtocolError
from mmtrio.venues.okx import codec_rest as cr
from mmtrio.venues.okx.codec import PONG, OkxDecoder, OpResult, UnknownMessage, WsEvent
from mmtrio.venues.okx.codec_market import BooksMessage
from mmtrio.venues.okx.fields import InstrumentCodec

SWAP = Instrument(
    symbol="BTC-USDT-SWAP",
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.01"),
    min_qty=1,
    max_qty=10_000_000_000,
    min_notional=Decimal(0),
    base_asset="BTC",
    contract_size=Decimal("0.01"),
)
# The docs' book example is priced to the cent (8476.98): an instrument on that grid.
CENTS = Instrument(
    symbol="BTC-USDT-SWAP",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("1"),
    min_qty=1,
    max_qty=10**9,
    min_notional=Decimal(0),
    contract_size=Decimal("0.01"),
)


def frame(obj: object) -> bytes:
    return orjson.dumps(obj)


BOOKS_SNAPSHOT = {
    "arg": {"channel": "books", "instId": "BTC-USDT-SWAP"},
    "action": "snapshot",
    "data": [
        {
            "asks": [
                ["8476.98", "415", "0", "13"],
                ["8477", "7", "0", "2"],
                ["8477.34", "85", "0", "1"],
            ],
            "bids": [
                ["8476.97", "256", "0", "12"],
                ["8475.55", "101", "0", "1"],
                ["8475.3", "1", "0", "1"],
            ],
            "ts": "1597026383085",
            "checksum": -855196043,
            "prevSeqId": -1,
            "seqId": 123456,
        }
    ],
}


def test_books_snapshot_and_update() -> None:
    dec = OkxDecoder(CENTS)
    (snap,) = dec.decode(frame(BOOKS_SNAPSHOT))
    assert isinstance(snap, BooksMessage)
    assert snap.snapshot and snap.seq == 123456 and snap.prev_seq == -1
    assert snap.checksum == -855196043 and snap.ts == 1597026383085
    bids, asks = snap.neutral_levels()
    assert bids == ((847697, 256), (847555, 101), (847530, 1))
    assert asks == ((847698, 415), (847700, 7), (847734, 85))
    assert snap.asks[1][2:] == ("8477", "7")  # the strings as sent (the checksum's input)
    update = {
        **BOOKS_SNAPSHOT,
        "action": "update",
        "data": [
            {
                "asks": [["8477", "0", "0", "0"]],
                "bids": [["8476.97", "300", "0", "13"]],
                "ts": "1597026383185",
                "checksum": 0,
                "prevSeqId": 123456,
                "seqId": 123457,
            }
        ],
    }
    (upd,) = dec.decode(frame(update))
    assert isinstance(upd, BooksMessage) and not upd.snapshot
    assert (upd.prev_seq, upd.seq) == (123456, 123457)
    assert upd.neutral_levels() == (((847697, 300),), ((847700, 0),))


def test_trades_mark_and_funding() -> None:
    dec = OkxDecoder(SWAP)
    trades = {
        "arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"},
        "data": [
            {
                "instId": "BTC-USDT-SWAP",
                "tradeId": "130639474",
                "px": "42219.9",
                "sz": "0.12",
                "side": "sell",
                "ts": "1630048897897",
                "count": "3",
            }
        ],
    }
    assert dec.decode(frame(trades)) == [
        Trade("BTC-USDT-SWAP", 130639474, 422199, 12, True, 1630048897897)
    ]
    mark = {
        "arg": {"channel": "mark-price", "instId": "BTC-USDT-SWAP"},
        "data": [
            {
                "instType": "SWAP",
                "instId": "BTC-USDT-SWAP",
                "markPx": "42310.6",
                "ts": "1630049139746",
            }
        ],
    }
    assert dec.decode(frame(mark)) == []  # no funding rate known yet
    funding = {
        "arg": {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"},
        "data": [
            {
                "instId": "BTC-USDT-SWAP",
                "fundingRate": "0.0001",
                "nextFundingRate": "0.0002",
                "fundingTime": "1744590349506",
                "nextFundingTime": "1744619149506",
                "ts": "1744590349506",
            }
        ],
    }
    want = MarkPrice(
        "BTC-USDT-SWAP",
        Decimal("42310.6"),
        Decimal(0),
        Decimal("0.0001"),
        1744590349506,
        1744590349506,
    )
    assert dec.decode(frame(funding)) == [want]
    (again,) = dec.decode(frame(mark))
    assert isinstance(again, MarkPrice) and again.ts == 1630049139746


ORDER_PUSH = {
    "arg": {"channel": "orders", "instType": "SWAP", "instId": "BTC-USDT-SWAP"},
    "data": [
        {
            "accFillSz": "0.03",
            "amendResult": "",
            "avgPx": "103698.9",
            "cTime": "1746947317401",
            "cancelSource": "",
            "category": "normal",
            "clOrdId": "mmt1x2a",
            "execType": "M",
            "fee": "-0.021776769",
            "feeCcy": "USDT",
            "fillFee": "-0.021776769",
            "fillFeeCcy": "USDT",
            "fillPx": "103698.9",
            "fillSz": "0.03",
            "fillTime": "1746947317402",
            "instId": "BTC-USDT-SWAP",
            "instType": "SWAP",
            "ordId": "2497956918703120384",
            "ordType": "post_only",
            "posSide": "net",
            "px": "103698.9",
            "reduceOnly": "false",
            "side": "buy",
            "state": "partially_filled",
            "sz": "0.05",
            "tdMode": "cross",
            "tradeId": "1518905529",
            "uTime": "1746947317402",
        }
    ],
}


def test_order_push_with_fill_flips_the_fee_sign() -> None:
    (upd,) = OkxDecoder(SWAP).decode(frame(ORDER_PUSH))
    fill = Fill(
        symbol="BTC-USDT-SWAP",
        trade_id=1518905529,
        client_id="mmt1x2a",
        order_id=2497956918703120384,
        side=Side.BUY,
        price=1036989,
        qty=3,
        fee=Decimal("0.021776769"),  # OKX's -0.0217… is a fee charged: paid, positive here
        fee_asset="USDT",
        is_maker=True,
        ts=1746947317402,
    )
    assert upd == OrderUpdate(
        symbol="BTC-USDT-SWAP",
        client_id="mmt1x2a",
        order_id=2497956918703120384,
        side=Side.BUY,
        exec_type=ExecType.TRADE,
        status=OrderStatus.PARTIALLY_FILLED,
        price=1036989,
        qty=5,
        cum_qty=3,
        time_in_force=TimeInForce.POST_ONLY,
        reduce_only=False,
        ts=1746947317402,
        fill=fill,
    )


def _order(**changes: str) -> dict[str, object]:
    data = {**ORDER_PUSH["data"][0], **changes}  # type: ignore[index]
    return {**ORDER_PUSH, "data": [data]}


def test_order_states_post_only_cancel_and_amend() -> None:
    dec = OkxDecoder(SWAP)
    quiet = {"fillSz": "0", "tradeId": "", "fillPx": "", "accFillSz": "0", "execType": ""}
    (live,) = dec.decode(frame(_order(state="live", **quiet)))
    assert isinstance(live, OrderUpdate)
    assert (live.exec_type, live.status, live.fill) == (ExecType.NEW, OrderStatus.NEW, None)
    (gone,) = dec.decode(frame(_order(state="canceled", cancelSource="31", **quiet)))
    assert isinstance(gone, OrderUpdate)
    assert (gone.exec_type, gone.status) == (ExecType.EXPIRED, OrderStatus.EXPIRED)
    (cxl,) = dec.decode(frame(_order(state="canceled", cancelSource="1", **quiet)))
    assert isinstance(cxl, OrderUpdate) and cxl.status is OrderStatus.CANCELED
    (amended,) = dec.decode(frame(_order(state="live", amendResult="0", px="103700.0", **quiet)))
    assert isinstance(amended, OrderUpdate)
    assert amended.exec_type is ExecType.AMENDMENT and amended.price == 1037000


def test_positions_account_and_funding_from_the_fee_change() -> None:
    dec = OkxDecoder(SWAP)

    def positions(pos: str, funding: str, t: str) -> bytes:
        row = {
            "instId": "BTC-USDT-SWAP",
            "instType": "SWAP",
            "mgnMode": "cross",
            "posSide": "net",
            "pos": pos,
            "avgPx": "10000",
            "upl": "0.5",
            "fundingFee": funding,
            "liqPx": "",
            "uTime": t,
        }
        return frame(
            {
                "arg": {"channel": "positions", "instType": "SWAP", "instId": "BTC-USDT-SWAP"},
                "data": [row],
            }
        )

    (first,) = dec.decode(positions("-5", "0", "1622559930237"))
    assert isinstance(first, AccountUpdate)
    assert first.positions[0].amount == -500  # -5 contracts = -500 lots of 0.01
    out = dec.decode(positions("-5", "0.25", "1622560000000"))
    assert out[1] == FundingPayment("BTC-USDT-SWAP", Decimal("0.25"), 1622560000000)
    assert (
        dec.decode(frame({"arg": {"channel": "positions", "instType": "SWAP"}, "data": []})) == []
    )
    account = {
        "arg": {"channel": "account", "ccy": "USDT"},
        "data": [
            {
                "details": [
                    {
                        "ccy": "USDT",
                        "cashBal": "94.42612990333333",
                        "eq": "99.89469657000001",
                        "availBal": "94.42612990333333",
                    }
                ],
                "totalEq": "99.88870288820581",
                "uTime": "1744499648556",
            }
        ],
    }
    (acct,) = dec.decode(frame(account))
    assert isinstance(acct, AccountUpdate)
    assert acct.balances[0].asset == "USDT"
    assert acct.balances[0].wallet_balance == Decimal("94.42612990333333")


def test_events_op_answers_and_pong() -> None:
    dec = OkxDecoder(SWAP)
    assert dec.decode("pong") == [PONG]
    assert dec.decode(frame({"event": "login", "code": "0", "msg": "", "connId": "a4d3ae55"})) == [
        WsEvent("login", "0", "", None)
    ]
    (err,) = dec.decode(
        frame({"event": "error", "code": "60024", "msg": "Wrong passphrase", "connId": "x"})
    )
    assert err == WsEvent("error", "60024", "Wrong passphrase", None)
    answer = {
        "id": "1512",
        "op": "order",
        "data": [
            {
                "clOrdId": "",
                "ordId": "12345689",
                "tag": "",
                "ts": "1695190491421",
                "sCode": "0",
                "sMsg": "",
            }
        ],
        "code": "0",
        "msg": "",
        "inTime": "1695190491421339",
        "outTime": "1695190491423240",
    }
    (op,) = dec.decode(frame(answer))
    assert isinstance(op, OpResult) and (op.id, op.op, op.code) == ("1512", "order", "0")
    (ans,) = cr.op_answers(list(op.data), "order")
    assert (ans.ok, ans.order_id, ans.ts) == (True, 12345689, 1695190491421)
    (unknown,) = dec.decode(
        frame({"arg": {"channel": "tickers", "instId": "BTC-USDT-SWAP"}, "data": []})
    )
    assert isinstance(unknown, UnknownMessage) and dec.unknown["tickers"] == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        frame({"arg": {"channel": "books", "instId": "ETH-USDT-SWAP"}, "data": []}),
        frame(
            {
                "arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"},
                "data": [{"tradeId": "x", "px": "1", "sz": "1", "side": "buy", "ts": "1"}],
            }
        ),
        frame(
            {
                "arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"},
                "data": [{"tradeId": "1", "px": "1.05", "sz": "1", "side": "buy", "ts": "1"}],
            }
        ),
        frame({**BOOKS_SNAPSHOT, "action": "partial"}),
        frame(_order(state="weird")),
        frame({"arg": {"channel": "books"}, "data": [5]}),
    ],
)
def test_malformed_frames_are_named_protocol_errors(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        OkxDecoder(SWAP).decode(raw)


INSTRUMENTS = [
    {
        "instId": "BTC-USDT-SWAP",
        "instType": "SWAP",
        "ctType": "linear",
        "ctVal": "0.01",
        "ctValCcy": "BTC",
        "settleCcy": "USDT",
        "lotSz": "0.01",
        "minSz": "0.01",
        "maxLmtSz": "100000000",
        "tickSz": "0.1",
        "state": "live",
    },
    {
        "instId": "BTC-USD-SWAP",
        "instType": "SWAP",
        "ctType": "inverse",
        "ctVal": "100",
        "ctValCcy": "USD",
        "settleCcy": "BTC",
        "lotSz": "1",
        "minSz": "1",
        "maxLmtSz": "100000000",
        "tickSz": "0.1",
        "state": "live",
    },
]


def test_instrument_from_the_instruments_answer() -> None:
    inst = cr.parse_instrument(INSTRUMENTS, "BTC-USDT-SWAP")
    assert inst.tick_size == Decimal("0.1") and inst.lot_size == Decimal("0.01")
    assert inst.contract_size == Decimal("0.01") and inst.base_per_lot == Decimal("0.0001")
    assert (inst.min_qty, inst.base_asset, inst.quote_asset) == (1, "BTC", "USDT")
    # 1 contract at 100000 = 0.01 BTC = 1000 USDT of notional: the contract value counts.
    assert inst.notional(1_000_000, 100) == Decimal("1000.0000")
    with pytest.raises(ConfigError, match="not a USDT-margined linear perpetual swap"):
        cr.parse_instrument(INSTRUMENTS, "BTC-USD-SWAP")
    with pytest.raises(ConfigError, match="lists no swap"):
        cr.parse_instrument(INSTRUMENTS, "DOGE-USDT-SWAP")
    with pytest.raises(ConfigError, match="not trading"):
        cr.parse_instrument([{**INSTRUMENTS[0], "state": "suspend"}], "BTC-USDT-SWAP")
    with pytest.raises(ConfigError, match="not a multiple"):
        cr.parse_instrument([{**INSTRUMENTS[0], "minSz": "0.015"}], "BTC-USDT-SWAP")


def test_request_bodies() -> None:
    place = PlaceOrder("mmt1x0", "BTC-USDT-SWAP", Side.SELL, 1036989, 5)
    assert cr.place_args(place, SWAP, "cross") == {
        "instId": "BTC-USDT-SWAP",
        "tdMode": "cross",
        "clOrdId": "mmt1x0",
        "side": "sell",
        "ordType": "post_only",
        "px": "103698.9",
        "sz": "0.05",
    }
    ro = PlaceOrder("mmt1x1", "BTC-USDT-SWAP", Side.BUY, 1036989, 5, TimeInForce.IOC, True)
    assert cr.place_args(ro, SWAP, "cross")["reduceOnly"] == "true"
    amend = AmendOrder("mmt1x0", "BTC-USDT-SWAP", Side.SELL, 1037000, 7)
    assert cr.amend_args(amend, SWAP) == {
        "instId": "BTC-USDT-SWAP",
        "clOrdId": "mmt1x0",
        "newSz": "0.07",
        "newPx": "103700.0",
    }
    assert cr.cancel_args(CancelOrder("mmt1x0", "BTC-USDT-SWAP")) == {
        "instId": "BTC-USDT-SWAP",
        "clOrdId": "mmt1x0",
    }
    with pytest.raises(ProtocolError, match="OKX's rule"):
        cr.place_args(PlaceOrder("mmt-1", "BTC-USDT-SWAP", Side.BUY, 1, 1), SWAP, "cross")


def test_rest_reads() -> None:
    ic = InstrumentCodec(SWAP)
    assert cr.parse_server_time([{"ts": "1597026383085"}]) == 1597026383085
    cfg = cr.parse_account_config([{"posMode": "long_short_mode", "acctLv": "2"}])
    assert (cfg.pos_mode, cfg.acct_lv) == ("long_short_mode", "2")
    bal = cr.parse_balance(
        [
            {
                "details": [{"ccy": "USDT", "cashBal": "10", "eq": "11", "availEq": "9"}],
                "mgnRatio": "",
            }
        ],
        "USDT",
    )
    assert (bal.cash, bal.available, bal.equity, bal.margin_ratio) == (
        Decimal(10),
        Decimal(9),
        Decimal(11),
        None,
    )
    fills = cr.parse_fills(
        [
            {
                "instType": "SWAP",
                "instId": "BTC-USDT-SWAP",
                "tradeId": "123",
                "ordId": "456",
                "clOrdId": "mmt1x0",
                "billId": "789",
                "fillPx": "103698.9",
                "fillSz": "0.03",
                "side": "sell",
                "posSide": "net",
                "execType": "T",
                "feeCcy": "USDT",
                "fee": "0.002",
                "ts": "1597026383085",
                "fillTime": "1597026383085",
            }
        ],
        ic,
    )
    assert fills[0][0] == 789
    assert fills[0][1].fee == Decimal("-0.002") and not fills[0][1].is_maker  # a rebate
    code, _msg, data = cr.envelope({"code": 51603, "msg": "Order does not exist"}, "x")
    assert (code, data) == ("51603", [])
