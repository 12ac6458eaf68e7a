"""The simulated OKX venue in process (no sockets): the ticker's trade statistics, the trades
OKX prints (ours included), the one ``cancelSource`` a closed order has wherever it is
rendered, the order history, leverage and fee rates, and the snapshot channels."""

from __future__ import annotations

import json
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from mmtrio.core.events import Trade
from mmtrio.sim.market import MarketMessage
from mmtrio.sim.okx import history, info, margin, market
from mmtrio.sim.okx.frontend import FRONT_END, OkxFrontEnd
from mmtrio.sim.okx.wire import OkxError
from mmtrio.sim.paper import replay_driver
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.okx.signing import Signer
from tests.integration.sim_helpers import DATA, data_instrument

HOUR_MS = 3_600_000
INST = "BTC-USDT-SWAP"


def new_front() -> tuple[SimVenue, OkxFrontEnd]:
    venue = SimVenue(replay_driver([DATA], data_instrument(DATA)), SimConfig())
    return venue, FRONT_END.create(venue)


def trade(venue: SimVenue, trade_id: int, price: int, lots: int, at: int, sell: bool) -> None:
    venue.on_message(MarketMessage(at, Trade(venue.symbol, trade_id, price, lots, sell, at)))


def order(front: OkxFrontEnd, **fields: str) -> dict[str, Any]:
    args = {"instId": INST, "tdMode": "cross", "side": "buy", "sz": "1", **fields}
    (answer,) = front.trading.run("order", args)
    return dict(answer)


def test_ticker_statistics_are_those_of_the_trades_of_the_last_24_hours() -> None:
    venue, front = new_front()
    inst = front.inst
    t0 = venue.market_ts
    trade(venue, 1, 500_000, 70, t0 + 1_000, sell=False)  # 25 h before the last: outside
    later = t0 + 25 * HOUR_MS
    trade(venue, 2, 600_001, 30, later, sell=True)
    trade(venue, 3, 600_050, 20, later + 1_000, sell=False)
    trade(venue, 4, 599_990, 10, later + 2_000, sell=True)
    (row,) = market.ticker(front, {"instId": INST})
    assert row["last"] == inst.price_str(599_990) == "59999.0"  # the last trade, on the grid
    assert row["lastSz"] == inst.qty_str(10) == "1.0"  # 10 lots = 1 contract
    assert (row["open24h"], row["high24h"], row["low24h"]) == ("60000.1", "60005.0", "59999.0")
    assert row["vol24h"] == "6.0"  # 60 lots = 6 contracts; the 70 lots 25 h earlier are out
    assert Decimal(row["volCcy24h"]) == Decimal("0.06")  # BTC
    bid, ask = venue.book.best()
    assert bid is not None and ask is not None
    assert row["bidPx"] == inst.price_str(bid[0]) and row["askPx"] == inst.price_str(ask[0])


def test_ticker_before_any_trade_invents_no_price() -> None:
    _, front = new_front()
    (row,) = market.ticker(front, {"instId": INST})
    assert row["last"] == "" and row["vol24h"] == "0" and row["open24h"] == ""
    with pytest.raises(OkxError) as err:
        market.ticker(front, {"instId": "ETH-USDT-SWAP"})
    assert err.value.code == "51001"


def test_a_taker_fill_of_ours_is_a_public_trade_and_the_last_price() -> None:
    venue, front = new_front()
    trade(venue, 7, 500_000, 70, venue.market_ts + 10, sell=False)
    answer = order(front, ordType="market")
    assert answer["sCode"] == "0"
    (fill,) = venue.account.fills
    (row,) = market.ticker(front, {"instId": INST})
    assert row["last"] == front.inst.price_str(fill.price) and row["lastSz"] == "1.0"
    newest, older = market.trades(front, {"instId": INST, "limit": "2"})
    assert newest["tradeId"] == str(fill.trade_id) and newest["side"] == "buy"
    assert newest["px"] == row["last"] and older["tradeId"] == "7"
    (candle,) = market.candles(front, {"instId": INST, "bar": "1m"})
    assert candle[5] == "8.0" and candle[8] == "0"  # 70 + 10 lots, still open


def test_market_endpoints_refuse_bad_parameters_in_okx_codes() -> None:
    _, front = new_front()
    for fn, params in (
        (market.trades, {"instId": INST, "limit": "501"}),
        (market.trades, {"instId": INST, "limit": "x"}),
        (market.candles, {"instId": INST, "bar": "7m"}),
        (market.candles, {"instId": INST, "limit": "0"}),
    ):
        with pytest.raises(OkxError) as err:
            fn(front, params)
        assert err.value.code == "51000", params


def test_post_only_that_would_take_says_31_in_push_query_and_history() -> None:
    venue, front = new_front()
    pushed: list[dict[str, Any]] = []

    def publish_user(data: dict[str, Any], *, fill: bool = False) -> None:
        pushed.append(data)

    venue.hub.publish_user = publish_user  # type: ignore[method-assign]
    _, ask = venue.book.best()
    assert ask is not None
    px = front.inst.price_str(ask[0] + 10)  # through the ask
    assert order(front, ordType="post_only", px=px, clOrdId="po1")["sCode"] == "0"
    (push,) = [p["data"][0] for p in pushed if p["arg"]["channel"] == "orders"]
    (queried,) = info.order(front, {"instId": INST, "clOrdId": "po1"})
    (listed,) = history.orders_history(front, {"instType": "SWAP", "state": "canceled"})
    for obj in (push, queried, listed):
        assert obj["clOrdId"] == "po1" and obj["state"] == "canceled"
        assert obj["cancelSource"] == "31", obj
        assert "post-only" in obj["cancelSourceReason"]


def test_a_user_cancel_says_1_everywhere_and_history_filters_by_state() -> None:
    venue, front = new_front()
    bid, _ = venue.book.best()
    assert bid is not None
    px = front.inst.price_str(bid[0] - 1000)
    order(front, ordType="post_only", px=px, clOrdId="rest1")
    (live,) = info.orders_pending(front, {"instType": "SWAP"})
    assert live["cancelSource"] == ""
    (answer,) = front.trading.run("cancel", {"instId": INST, "clOrdId": "rest1"})
    assert answer["sCode"] == "0"
    (queried,) = info.order(front, {"instId": INST, "clOrdId": "rest1"})
    (listed,) = history.orders_history(front, {"instType": "SWAP"})
    assert queried["cancelSource"] == listed["cancelSource"] == "1"
    assert history.orders_history(front, {"instType": "SWAP", "state": "filled"}) == []
    assert history.orders_history(front, {"instType": "FUTURES"}) == []
    with pytest.raises(OkxError) as err:
        history.orders_history(front, {})
    assert err.value.code == "50014"


def test_a_cancel_all_after_cancel_says_20_everywhere() -> None:
    venue, front = new_front()
    bid, _ = venue.book.best()
    assert bid is not None
    order(front, ordType="post_only", px=front.inst.price_str(bid[0] - 1000), clOrdId="dm1")
    assert venue.cancel_all("countdown") == 1  # what the countdown does when it ends
    (queried,) = info.order(front, {"instId": INST, "clOrdId": "dm1"})
    (listed,) = history.orders_history(front, {"instType": "SWAP"})
    assert queried["cancelSource"] == listed["cancelSource"] == "20"
    assert queried["cancelSourceReason"] == "Cancel all after triggered"


def test_a_venue_cancel_says_0_by_system_not_1_by_user() -> None:
    """The venue_cancel fault (the venue cancels) said cancelSource 1, "canceled by user"."""
    venue, front = new_front()
    bid, _ = venue.book.best()
    assert bid is not None
    order(front, ordType="post_only", px=front.inst.price_str(bid[0] - 1000), clOrdId="vc1")
    venue.inject("venue_cancel", {"client_id": "vc1"})
    (queried,) = info.order(front, {"instId": INST, "clOrdId": "vc1"})
    (listed,) = history.orders_history(front, {"instType": "SWAP"})
    assert queried["cancelSource"] == listed["cancelSource"] == "0"
    assert queried["cancelSourceReason"] == "Order canceled by system"


def test_order_history_pages_newest_first_and_forgets_unfilled_cancels_after_2_hours() -> None:
    venue, front = new_front()
    bid, _ = venue.book.best()
    assert bid is not None
    for n in range(3):
        order(front, ordType="post_only", px=front.inst.price_str(bid[0] - 1000 - n),
              clOrdId=f"h{n}")  # fmt: skip
        front.trading.run("cancel", {"instId": INST, "clOrdId": f"h{n}"})
        venue.market_ts += 1  # each placed a little later
    rows = history.orders_history(front, {"instType": "SWAP"})
    assert [r["clOrdId"] for r in rows] == ["h2", "h1", "h0"]
    page = history.orders_history(front, {"instType": "SWAP", "after": rows[0]["ordId"],
                                          "limit": "1"})  # fmt: skip
    assert [r["clOrdId"] for r in page] == ["h1"]
    venue.market_ts += 2 * HOUR_MS + 10
    assert history.orders_history(front, {"instType": "SWAP"}) == []


def test_set_leverage_is_recorded_reported_and_validated() -> None:
    venue, front = new_front()
    (said,) = margin.set_leverage(front, {"instId": INST, "lever": 5, "mgnMode": "cross"})
    assert said == {"lever": "5", "mgnMode": "cross", "instId": INST, "posSide": "net"}
    (lev,) = margin.leverage_info(front, {"instId": INST, "mgnMode": "cross"})
    assert lev["lever"] == "5"
    venue.inject("position_adjust", {"lots": 100})  # 0.1 BTC long
    (pos,) = front.streams.position_rows()
    assert pos["lever"] == "5"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"instId": INST, "lever": "0", "mgnMode": "cross"}, "51000"),
        ({"instId": INST, "lever": "2.555", "mgnMode": "cross"}, "51000"),
        ({"instId": INST, "lever": "abc", "mgnMode": "cross"}, "51000"),
        ({"instId": INST, "lever": True, "mgnMode": "cross"}, "51000"),
        ({"instId": INST, "lever": "101", "mgnMode": "cross"}, "59102"),
        ({"instId": INST, "lever": "5", "mgnMode": "portfolio"}, "51000"),
        ({"instId": INST, "lever": "5", "mgnMode": "cross", "posSide": "long"}, "51000"),
        ({"instId": INST, "mgnMode": "cross"}, "50014"),
        ({"lever": "5", "mgnMode": "cross"}, "50014"),
        ({"instId": "ETH-USDT-SWAP", "lever": "5", "mgnMode": "cross"}, "51001"),
    ]
    for body, code in bad:
        with pytest.raises(OkxError) as err:
            margin.set_leverage(front, body)
        assert err.value.code == code, body
    venue.account.balance = Decimal(100)  # 0.1 BTC at 1x needs ~6,000 USDT of margin
    with pytest.raises(OkxError) as err:
        margin.set_leverage(front, {"instId": INST, "lever": "1", "mgnMode": "cross"})
    assert err.value.code == "59103"
    assert front.streams.leverage["cross"] == "5"  # a refusal changes nothing


def test_trade_fee_says_the_sims_schedule_in_okx_signs() -> None:
    venue, front = new_front()
    (row,) = margin.trade_fee(front, {"instType": "SWAP", "uly": "BTC-USDT"})
    fees = venue.config.fees
    assert Decimal(row["makerU"]) == -fees.maker_rate and Decimal(row["takerU"]) == -fees.taker_rate
    with pytest.raises(OkxError) as err:
        margin.trade_fee(front, {"instType": "SWAP", "instFamily": "ETH-USDT"})
    assert err.value.code == "51001"


def test_books5_and_bbo_tbt_are_snapshots_of_the_public_book() -> None:
    venue, front = new_front()
    quotes = front.streams.quotes
    bids, asks = venue.book.top(5)
    five = quotes.snapshot("books5")
    assert five["arg"] == {"channel": "books5", "instId": INST}
    (data,) = five["data"]
    assert [lvl[0] for lvl in data["bids"]] == [front.inst.price_str(p) for p, _ in bids]
    assert [lvl[0] for lvl in data["asks"]] == [front.inst.price_str(p) for p, _ in asks]
    assert data["seqId"] == venue.book.seq and "prevSeqId" not in data
    (bbo,) = quotes.snapshot("bbo-tbt")["data"]
    assert bbo["bids"] == data["bids"][:1] and bbo["asks"] == data["asks"][:1]


def test_snapshot_channels_push_only_changes_as_the_market_replays() -> None:
    venue, front = new_front()
    quotes = front.streams.quotes
    watched = {quotes.topics[c] for c in ("books5", "bbo-tbt", "tickers")}
    sent: dict[str, list[Any]] = {"books5": [], "bbo-tbt": [], "tickers": []}
    tops: list[Any] = []

    def publish(canonical: str, data: dict[str, Any]) -> None:
        channel = data["arg"]["channel"]
        sent[channel].append(data["data"][0])
        if channel == "books5":
            tops.append(quotes.snapshot("books5")["data"][0])  # the book as it is now

    venue.hub.has_subscribers = lambda canonical: canonical in watched  # type: ignore[method-assign]
    venue.hub.publish = publish  # type: ignore[method-assign]
    for n, msg in enumerate(venue.driver):
        venue.on_message(msg)
        if n == 3000:
            break
    assert len(sent["books5"]) > 10 and len(sent["bbo-tbt"]) > 10 and sent["tickers"]
    assert sent["books5"] == tops  # each push is the book's top 5 when it went out
    for channel in ("books5", "bbo-tbt"):
        levels = [(d["bids"], d["asks"]) for d in sent[channel]]
        assert all(a != b for a, b in pairwise(levels)), channel
    stamps = [int(t["ts"]) for t in sent["tickers"]]  # market time on the wire
    assert all(b - a >= 100 for a, b in pairwise(stamps))


async def test_a_private_connection_that_enters_orders_is_the_orders_fault_target() -> None:
    """`ws_close` with target "orders" closed nothing on OKX: its order sessions were only
    "user" connections. One that sent an order op is now an order-entry socket."""
    venue, front = new_front()
    c = front.client_credentials()
    signer = Signer(c["api_key"], c["api_secret"], c["passphrase"])
    login = {"op": "login", "args": [signer.login_args(venue.wall_ms() // 1000)]}
    orders, user = front.ws.open("/ws/v5/private"), front.ws.open("/ws/v5/private")
    for conn in (orders, user):
        (answer,) = await front.ws.on_message(conn, json.dumps(login))
        assert json.loads(answer)["code"] == "0"
    args = {"instId": INST, "tdMode": "cross", "side": "buy", "ordType": "post_only",
            "px": "1000", "sz": "1", "clOrdId": "a1"}  # fmt: skip
    op = {"id": "m1", "op": "order", "args": [args]}
    await front.ws.on_message(orders, json.dumps(op))
    assert venue.hub.conns("orders") == [orders]
    assert set(venue.hub.conns("user")) == {orders, user}
