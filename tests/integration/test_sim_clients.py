"""Protocol fidelity: real third-party Binance clients' usual flows against `mmtrio sim`.

Issue #20, finding 7: the official SDK (``binance-sdk-derivatives-trading-usds-futures``)
subscribes to the user stream with ``SUBSCRIBE [<listenKey>]`` on ``/private/stream`` and
the sim refused it, so that client got no user events; endpoints these clients call
answered 404 (``ticker/bookTicker``, ``openOrder``, ``v2/balance``, ``v3/balance``,
``ticker/24hr``, ``aggTrades``, ``klines``, ``premiumIndex``, ``allOrders``, ``POST
leverage``); v3 ``positionRisk`` and ``account`` answered the v2 shape; exchangeInfo had no
PERCENT_PRICE; there were no TRADE_LITE events; the STP mode was NONE on the stream and
EXPIRE_TAKER over REST; an unknown extra order parameter was accepted.

Each client is driven as its documentation shows, with only its base URLs pointed at the
sim (a subprocess: these clients are synchronous or asyncio, the sim runs on Trio). The
official SDK's and python-binance's response models parse every answer, so a missing or
mistyped field fails here.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.sim_helpers import KEY, ORDER, signed_query
from tests.integration.test_sim_ccxt import _exchange

pytestmark = pytest.mark.integration
SYMBOL = "BTCUSDT"


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmtrio", "sim", "--port", "0", "--json", "--speed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"sim did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield json.loads(line)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def _sdk(info: dict[str, Any]) -> Any:
    from binance_common.configuration import (
        ConfigurationRestAPI,
        ConfigurationWebSocketStreams,
    )
    from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
        DerivativesTradingUsdsFutures,
    )

    return DerivativesTradingUsdsFutures(
        config_rest_api=ConfigurationRestAPI(
            api_key=info["api_key"], api_secret=info["api_secret"], base_path=info["rest"]
        ),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=info["ws"]),
    )


def test_official_sdk_rest_flow_parses_every_answer(sim: dict[str, Any]) -> None:
    rest = _sdk(sim).rest_api
    info = rest.exchange_information().data()
    filters = {f.filter_type: f for f in info.symbols[0].filters}
    assert filters["PERCENT_PRICE"].multiplier_up == "1.0500"
    top = rest.symbol_order_book_ticker(symbol=SYMBOL).data().actual_instance
    bid, ask = float(top.bid_price), float(top.ask_price)
    assert 0 < bid < ask
    stats = rest.ticker24hr_price_change_statistics(symbol=SYMBOL).data().actual_instance
    assert stats.symbol == SYMBOL and stats.count >= 0
    assert rest.symbol_price_ticker(symbol=SYMBOL).data().actual_instance.symbol == SYMBOL
    mark = rest.mark_price(symbol=SYMBOL).data().actual_instance
    assert float(mark.mark_price) > 0 and mark.next_funding_time > 0
    assert isinstance(rest.kline_candlestick_data(symbol=SYMBOL, interval="1m").data(), list)
    assert isinstance(rest.compressed_aggregate_trades_list(symbol=SYMBOL).data(), list)
    lev = rest.change_initial_leverage(symbol=SYMBOL, leverage=10).data()
    assert lev.leverage == 10
    placed = rest.new_order(
        symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTX", quantity=0.002,
        price=round(bid - 100, 1), new_client_order_id="sdk-1",
    ).data()  # fmt: skip
    assert placed.status == "NEW" and placed.self_trade_prevention_mode == "EXPIRE_TAKER"
    got = rest.query_current_open_order(symbol=SYMBOL, orig_client_order_id="sdk-1").data()
    assert got.order_id == placed.order_id
    assert any(o.client_order_id == "sdk-1" for o in rest.all_orders(symbol=SYMBOL).data())
    assert rest.cancel_order(symbol=SYMBOL, orig_client_order_id="sdk-1").data().status == (
        "CANCELED"
    )
    # v3 in its own shape: no leverage or margin type, the margins instead
    acct = rest.account_information_v3().data()
    assert acct.assets[0].asset == "USDT" and "feeTier" not in acct.to_dict()
    rest.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="IOC",
                   quantity=0.002, price=round(ask + 20, 1))  # fmt: skip
    (pos,) = rest.position_information_v3(symbol=SYMBOL).data()
    assert pos.position_amt == "0.002" and pos.initial_margin is not None
    assert "leverage" not in pos.to_dict()
    assert rest.futures_account_balance_v3().data()[0].asset == "USDT"
    assert rest.futures_account_balance_v2().data()[0].asset == "USDT"
    assert rest.account_trade_list(symbol=SYMBOL).data()


def test_official_sdk_user_stream_receives_events_from_the_sim(sim: dict[str, Any]) -> None:
    async def main() -> list[Any]:
        client = _sdk(sim)
        key = client.rest_api.start_user_data_stream().data().listen_key
        conn = await client.websocket_streams.create_connection()
        got: list[Any] = []
        try:
            stream = await conn.user_data(key)  # SUBSCRIBE [<listenKey>] on /private/stream
            stream.on("message", got.append)
            ask = float(
                client.rest_api.symbol_order_book_ticker(symbol=SYMBOL)
                .data()
                .actual_instance.ask_price
            )
            client.rest_api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT",
                                      time_in_force="IOC", quantity=0.002,
                                      price=round(ask + 20, 1))  # fmt: skip
            for _ in range(100):  # the SDK's own asyncio loop delivers them
                await asyncio.sleep(0.05)
                if len(got) >= 4:
                    break
        finally:
            await conn.close_connection(close_session=True)
        return got

    events = asyncio.run(main())
    kinds = {type(e.actual_instance).__name__ for e in events}
    assert {"OrderTradeUpdate", "TradeLite", "AccountUpdate"} <= kinds, kinds
    for e in events:
        if type(e.actual_instance).__name__ == "OrderTradeUpdate":
            assert e.actual_instance.o.V == "EXPIRE_TAKER"  # as REST says


def test_python_binance_rest_and_futures_user_socket(sim: dict[str, Any]) -> None:
    from binance import AsyncClient, BinanceSocketManager
    from binance.client import Client

    c = Client(sim["api_key"], sim["api_secret"], ping=False)
    c.FUTURES_URL = sim["rest"] + "/fapi"
    assert c.futures_exchange_info()["symbols"][0]["symbol"] == SYMBOL
    assert float(c.futures_ticker(symbol=SYMBOL)["lastPrice"]) > 0
    assert float(c.futures_symbol_ticker(symbol=SYMBOL)["price"]) > 0
    book = c.futures_orderbook_ticker(symbol=SYMBOL)
    assert float(c.futures_mark_price(symbol=SYMBOL)["markPrice"]) > 0
    assert c.futures_klines(symbol=SYMBOL, interval="1m", limit=2)
    assert c.futures_aggregate_trades(symbol=SYMBOL, limit=2)
    assert c.futures_change_leverage(symbol=SYMBOL, leverage=5)["leverage"] == 5
    assert c.futures_account_balance()[0]["asset"] == "USDT"  # v3
    assert c.futures_account()["assets"][0]["asset"] == "USDT"
    order = c.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTX",
        quantity=0.002,
        price=round(float(book["bidPrice"]) - 100, 1),
    )
    assert c.futures_get_order(symbol=SYMBOL, orderId=order["orderId"])["status"] == "NEW"
    assert any(o["orderId"] == order["orderId"] for o in c.futures_get_all_orders(symbol=SYMBOL))
    c.futures_cancel_order(symbol=SYMBOL, orderId=order["orderId"])
    key = c.futures_stream_get_listen_key()
    c.futures_stream_keepalive(key)  # sends listenKey: read, not -1104

    async def user_events() -> list[dict[str, Any]]:
        ac = AsyncClient(sim["api_key"], sim["api_secret"])
        ac.FUTURES_URL = sim["rest"] + "/fapi"
        bm = BinanceSocketManager(ac)
        bm.FSTREAM_URL = sim["ws"] + "/"
        got: list[dict[str, Any]] = []
        try:
            async with bm.futures_user_socket() as socket:  # /private/ws?listenKey=
                ask = float(c.futures_orderbook_ticker(symbol=SYMBOL)["askPrice"])
                c.futures_create_order(symbol=SYMBOL, side="BUY", type="LIMIT",
                                       timeInForce="IOC", quantity=0.002,
                                       price=round(ask + 20, 1))  # fmt: skip
                while len(got) < 4:
                    got.append(await asyncio.wait_for(socket.recv(), 10))
        finally:
            await ac.close_connection()
        return got

    kinds = {e["e"] for e in asyncio.run(user_events())}
    assert {"ORDER_TRADE_UPDATE", "TRADE_LITE", "ACCOUNT_UPDATE"} <= kinds, kinds


def test_ccxt_usual_flows_beyond_orders(sim: dict[str, Any]) -> None:
    ex = _exchange(sim)
    ex.load_markets()
    s = "BTC/USDT:USDT"
    assert ex.fetch_ticker(s)["last"] > 0  # ticker/24hr
    bids_asks = ex.fetch_bids_asks([s])[s]  # ticker/bookTicker
    assert bids_asks["bid"] < bids_asks["ask"]
    assert ex.fetch_trades(s, limit=3)  # aggTrades
    assert ex.fetch_ohlcv(s, "1m", limit=2)  # klines
    assert ex.fetch_funding_rate(s)["markPrice"] > 0  # premiumIndex
    assert ex.fetch_balance()["USDT"]["total"] > 0
    assert ex.set_leverage(3, s)["leverage"] == 3
    order = ex.create_order(s, "limit", "buy", 0.002, bids_asks["bid"] - 100, {"timeInForce": "PO"})
    assert ex.fetch_open_order(order["id"], s)["status"] == "open"  # openOrder
    assert any(o["id"] == order["id"] for o in ex.fetch_orders(s))  # allOrders
    ex.cancel_order(order["id"], s)


def _post_order(info: dict[str, Any], params: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{info['rest']}/fapi/v1/order?{signed_query(params)}",
        headers={"X-MBX-APIKEY": KEY},
        timeout=5,
    )


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"timeInforce": "GTC"}, -1104),  # a misspelt parameter: not read, refused
        ({"newClientOrderID": "x"}, -1104),
        ({"selfTradePreventionMode": "EXPIRE_MAKER"}, -1100),  # not what the sim does
        ({"priceMatch": "QUEUE"}, -1100),
        ({"stopPrice": "60000"}, -1106),
    ],
)
def test_parameters_the_venue_does_not_read_or_honour_are_refused(
    sim: dict[str, Any], extra: dict[str, str], code: int
) -> None:
    r = _post_order(sim, {**ORDER, "newClientOrderId": f"p-{abs(hash(str(extra)))}", **extra})
    assert r.status_code == 400 and r.json()["code"] == code, r.text


def test_percent_price_filter_is_enforced_as_listed(sim: dict[str, Any]) -> None:
    mark = float(httpx.get(f"{sim['rest']}/fapi/v1/premiumIndex?symbol={SYMBOL}").json()
                 ["markPrice"])  # fmt: skip
    high = _post_order(sim, {**ORDER, "timeInForce": "GTC", "price": f"{mark * 1.06:.1f}"})
    assert high.json()["code"] == -4016, high.text
    low = _post_order(
        sim, {**ORDER, "side": "SELL", "timeInForce": "GTC", "price": f"{mark * 0.94:.1f}"}
    )
    assert low.json()["code"] == -4024, low.text
    # a BUY far below (or a SELL far above) the mark is within the one-sided filter
    ok = _post_order(sim, {**ORDER, "price": f"{mark * 0.90:.1f}", "newClientOrderId": "pp-ok"})
    assert ok.status_code == 200, ok.text
