"""ccxt's ``okx`` class against `mmtrio sim --venue okx` (a real process on loopback): the
market-data, history and account calls it makes beyond placing orders: recent trades, the
ticker after a fill of ours, closed and cancelled orders, leverage and fee rates.

The sim replays at a thousandth of real time here, so no market trade lands between our
fill and the reads that follow it: ``last`` must then be our fill's price exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.test_sim_ccxt import mmtrio_sim
from tests.integration.test_sim_okx_ccxt import SYMBOL

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    with mmtrio_sim("--venue", "okx", "--speed", "0.001") as info:
        yield info


@pytest.fixture(scope="module")
def okx(sim: dict[str, Any]) -> Any:
    import ccxt

    creds = sim["credentials"]
    ex = ccxt.okx(
        {
            "apiKey": creds["api_key"],
            "secret": creds["api_secret"],
            "password": creds["passphrase"],
            "enableRateLimit": False,
            "options": {"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"},
        }
    )
    ex.urls["api"] = {"rest": sim["rest"]}
    ex.load_markets()
    return ex


def on_grid(price: float) -> bool:
    return Decimal(str(price)) % Decimal("0.1") == 0


def test_a_market_order_prints_a_trade_and_sets_the_tickers_last(okx: Any) -> None:
    okx.create_order(SYMBOL, "market", "buy", 1)
    (mine,) = okx.fetch_my_trades(SYMBOL)
    trades = okx.fetch_trades(SYMBOL, limit=5)
    assert trades and trades == sorted(trades, key=lambda t: t["timestamp"])
    newest = trades[-1]
    assert newest["id"] == mine["id"] and newest["side"] == "buy"
    assert newest["price"] == mine["price"] and newest["amount"] == 1.0
    ticker = okx.fetch_ticker(SYMBOL)
    assert ticker["last"] == mine["price"] and on_grid(ticker["last"])
    assert ticker["info"]["lastSz"] == "1.0"
    assert ticker["baseVolume"] >= 1.0  # contracts over the replay so far, ours included
    assert ticker["low"] <= ticker["last"] <= ticker["high"]
    assert ticker["bid"] < ticker["ask"]


def test_closed_and_canceled_orders(okx: Any) -> None:
    book = okx.fetch_order_book(SYMBOL, 1)
    far = okx.price_to_precision(SYMBOL, book["bids"][0][0] * 0.9)
    resting = okx.create_order(SYMBOL, "limit", "buy", 1, float(far), {"postOnly": True})
    okx.cancel_order(resting["id"], SYMBOL)
    through = okx.price_to_precision(SYMBOL, book["asks"][0][0] * 1.01)
    taking = okx.create_order(SYMBOL, "limit", "buy", 1, float(through), {"postOnly": True})
    filled = okx.create_order(SYMBOL, "limit", "buy", 1, float(through))  # takes the ask

    canceled = {o["id"]: o for o in okx.fetch_canceled_orders(SYMBOL)}
    assert set(canceled) == {resting["id"], taking["id"]}
    assert all(o["status"] == "canceled" for o in canceled.values())
    assert canceled[resting["id"]]["info"]["cancelSource"] == "1"  # by us
    assert canceled[taking["id"]]["info"]["cancelSource"] == "31"  # post-only would take
    assert okx.fetch_order(taking["id"], SYMBOL)["info"]["cancelSource"] == "31"

    closed = {o["id"]: o for o in okx.fetch_closed_orders(SYMBOL)}
    assert filled["id"] in closed and closed[filled["id"]]["status"] == "closed"
    assert closed[filled["id"]]["filled"] == 1.0
    assert not set(closed) & set(canceled)


def test_set_leverage_is_reported_back_and_refused_above_the_maximum(okx: Any) -> None:
    import ccxt

    okx.set_leverage(7, SYMBOL, {"marginMode": "cross"})
    got = okx.fetch_leverage(SYMBOL, {"marginMode": "cross"})
    assert got["longLeverage"] == 7 and got["marginMode"] == "cross"
    with pytest.raises(ccxt.ExchangeError, match="59102"):
        okx.set_leverage(120, SYMBOL, {"marginMode": "cross"})
    with pytest.raises(ccxt.BadRequest, match="51000"):
        okx.privatePostAccountSetLeverage({"instId": "BTC-USDT-SWAP", "lever": "0",
                                           "mgnMode": "cross"})  # fmt: skip
    assert okx.fetch_leverage(SYMBOL, {"marginMode": "cross"})["longLeverage"] == 7


def test_trading_fee(okx: Any) -> None:
    fee = okx.fetch_trading_fee(SYMBOL)
    assert (fee["maker"], fee["taker"]) == (0.0002, 0.0005)  # the sim's default schedule
