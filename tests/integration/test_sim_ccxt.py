"""Protocol fidelity: ccxt's binanceusdm (a client nobody here wrote) against `mmtrio sim`.

The sim takes the symbol and its grid from the recording it replays; a recording cannot show
MIN_NOTIONAL, so the sim states the documented default (``recording.DEFAULT_MIN_NOTIONAL``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mmtrio.venues.binance.recording import DEFAULT_MIN_NOTIONAL

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm"


@contextmanager
def mmtrio_sim(*extra: str) -> Iterator[dict[str, Any]]:
    """`mmtrio sim --json` as a real process; yields its JSON line; Ctrl-C must exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmtrio", "sim", "--port", "0", "--json", *extra],
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
        code = proc.wait(timeout=20)
        assert code == 0


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    with mmtrio_sim("--speed", "1") as info:
        yield info


def _exchange(info: dict[str, Any]) -> Any:
    import ccxt

    ex = ccxt.binanceusdm(
        {
            "apiKey": info["api_key"],
            "secret": info["api_secret"],
            "enableRateLimit": False,
            "options": {
                "fetchCurrencies": False,
                "adjustForTimeDifference": False,
                "fetchMarkets": {"types": ["linear"]},
                "warnOnFetchOpenOrdersWithoutSymbol": False,
            },
        }
    )
    rest = info["rest"]
    for key in (
        "fapiPublic",
        "fapiPublicV2",
        "fapiPublicV3",
        "fapiPrivate",
        "fapiPrivateV2",
        "fapiPrivateV3",
        "fapiData",
    ):
        version = {"fapiPublic": "v1", "fapiPrivate": "v1", "fapiData": "data"}.get(
            key, key[-2:].lower()
        )
        ex.urls["api"][key] = (
            f"{rest}/fapi/{version}" if version != "data" else f"{rest}/futures/data"
        )
    return ex


def test_ccxt_places_sees_cancels_post_only_order(sim: dict[str, Any]) -> None:
    ex = _exchange(sim)
    markets = ex.load_markets()
    market = markets["BTC/USDT:USDT"]
    assert market["precision"]["price"] == 0.1
    assert market["precision"]["amount"] == 0.001
    assert market["limits"]["cost"]["min"] == float(DEFAULT_MIN_NOTIONAL)
    book = ex.fetch_order_book("BTC/USDT:USDT", limit=5)
    best_bid = book["bids"][0][0]
    price = round(best_bid - 50.0, 1)  # well below the market: rests as maker
    order = ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, price, {"timeInForce": "PO"})
    assert order["status"] == "open"
    oid = order["id"]
    open_ids = [o["id"] for o in ex.fetch_open_orders("BTC/USDT:USDT")]
    assert oid in open_ids
    fetched = ex.fetch_order(oid, "BTC/USDT:USDT")
    assert fetched["price"] == price and fetched["amount"] == 0.01
    cancelled = ex.cancel_order(oid, "BTC/USDT:USDT")
    assert cancelled["status"] == "canceled"
    assert ex.fetch_open_orders("BTC/USDT:USDT") == []
    assert ex.fetch_positions(["BTC/USDT:USDT"]) == []  # ccxt drops flat positions
    # a taker buy through the best ask fills at once: the position is then readable
    ask = ex.fetch_order_book("BTC/USDT:USDT", limit=5)["asks"][0][0]
    taker = ex.create_order(
        "BTC/USDT:USDT", "limit", "buy", 0.002, ask + 100, {"timeInForce": "IOC"}
    )
    filled = ex.fetch_order(taker["id"], "BTC/USDT:USDT")
    assert filled["filled"] > 0
    positions = ex.fetch_positions(["BTC/USDT:USDT"])
    assert len(positions) == 1 and positions[0]["side"] == "long"
    assert positions[0]["contracts"] == filled["filled"]


def test_ccxt_post_only_that_would_take_is_rejected(sim: dict[str, Any]) -> None:
    import ccxt

    ex = _exchange(sim)
    ex.load_markets()
    book = ex.fetch_order_book("BTC/USDT:USDT", limit=5)
    best_ask = book["asks"][0][0]
    with pytest.raises(ccxt.InvalidOrder, match="-5022"):
        ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, best_ask + 10, {"timeInForce": "PO"})


def test_ccxt_bad_secret_is_authentication_error(sim: dict[str, Any]) -> None:
    import ccxt

    ex = _exchange({**sim, "api_secret": "wrong"})
    ex.load_markets()
    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_open_orders("BTC/USDT:USDT")


def test_sim_serves_the_recordings_symbol_and_grid() -> None:
    # No --symbol: ETHUSDT and its tick 0.01 come from the data, as a client reads them.
    with mmtrio_sim("--data", str(DATA / "ethusdt_20240808.gz"), "--speed", "5") as info:
        assert info["venue"] == "binance" and info["symbol"] == "ETHUSDT"
        assert set(info) >= {"venue", "rest", "ws", "admin", "symbol", "credentials"}
        assert info["credentials"] == {
            "api_key": info["api_key"],
            "api_secret": info["api_secret"],
        }
        ex = _exchange({**info, **info["credentials"]})
        markets = ex.load_markets()
        assert [m["symbol"] for m in markets.values()] == ["ETH/USDT:USDT"]
        market = markets["ETH/USDT:USDT"]
        assert market["precision"]["price"] == 0.01
        assert market["precision"]["amount"] == 0.001
        raw = {f["filterType"]: f for f in market["info"]["filters"]}
        assert raw["PRICE_FILTER"]["tickSize"] == "0.01"
        assert raw["LOT_SIZE"]["stepSize"] == "0.001"
        # An order on ETH's grid (two decimals) is accepted; BTC's grid was 0.10.
        bid = ex.fetch_order_book("ETH/USDT:USDT", limit=5)["bids"][0][0]
        price = round(bid - 5.03, 2)
        order = ex.create_order("ETH/USDT:USDT", "limit", "buy", 0.01, price, {"timeInForce": "PO"})
        assert (
            order["status"] == "open"
            and ex.fetch_order(order["id"], "ETH/USDT:USDT")["price"] == price
        )


def test_sim_symbol_flag_is_checked_against_the_data() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mmtrio", "sim", "--json", "--symbol", "BTCUSDT",
         "--data", str(DATA / "ethusdt_20240808.gz")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--symbol BTCUSDT does not match the recording, which holds ETHUSDT" in proc.stderr


def test_ccxt_create_orders_batch_and_an_ack_that_filled_on_arrival(sim: dict[str, Any]) -> None:
    """create_orders goes through POST /fapi/v1/batchOrders, each order answered in place;
    a marketable limit with an ACK answers the order at acceptance (nothing
    executed) while the user stream reports its fill."""
    from websockets.sync.client import connect

    ex = _exchange(sim)
    ex.load_markets()
    sym = "BTC/USDT:USDT"
    book = ex.fetch_order_book(sym, limit=5)
    bid, ask = book["bids"][0][0], book["asks"][0][0]

    def limit(price: float, **params: str) -> dict[str, Any]:
        return {"symbol": sym, "type": "limit", "side": "buy", "amount": 0.01, "price": price,
                "params": params}  # fmt: skip

    # the third would take liquidity as a post-only order: refused in its place (-5022)
    orders = [limit(round(bid - 60, 1)), limit(round(bid - 70, 1)),
              limit(round(ask + 10, 1), timeInForce="GTX")]  # fmt: skip
    placed = ex.create_orders(orders)
    # ccxt sorts parsed orders by time (a refusal has none): match them by what they say
    rejected = [o for o in placed if o["status"] == "rejected"]
    opened = sorted((o for o in placed if o["status"] == "open"), key=lambda o: -o["price"])
    assert [o["info"]["code"] for o in rejected] == [-5022]
    assert [o["price"] for o in opened] == [round(bid - 60, 1), round(bid - 70, 1)]
    open_ids = {o["id"] for o in ex.fetch_open_orders(sym)}
    assert {o["id"] for o in opened} <= open_ids
    ex.cancel_all_orders(sym)

    key = ex.fapiPrivatePostListenKey()["listenKey"]
    with connect(f"{sim['ws']}/ws/{key}", open_timeout=10) as user:
        # ccxt asks RESULT for futures unless told otherwise; Binance's default is ACK (the
        # parameter absent: test_sim_binance_orders_more.py)
        ack = {"newOrderRespType": "ACK"}
        order = ex.create_order(sym, "limit", "buy", 0.002, round(ask + 20, 1), ack)
        assert order["info"]["status"] == "NEW" and order["info"]["executedQty"] == "0"
        assert order["info"]["avgPrice"] == "0.00" and order["filled"] == 0
        fills: list[dict[str, Any]] = []
        while not fills:
            event = json.loads(user.recv(timeout=10))
            o = event.get("o", {})
            if event.get("e") == "ORDER_TRADE_UPDATE" and str(o.get("i")) == order["id"]:
                fills += [o] if o["x"] == "TRADE" else []
    assert fills[0]["X"] in ("FILLED", "PARTIALLY_FILLED") and float(fills[0]["l"]) > 0
    assert ex.fetch_order(order["id"], sym)["filled"] == 0.002
