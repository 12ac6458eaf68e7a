"""Protocol fidelity: ccxt's ``okx`` class (a client nobody here wrote) against
`mmtrio sim --venue okx`, a real process on loopback.

ccxt signs every private request with the key, secret and passphrase the sim prints, loads the
market from ``/api/v5/public/instruments`` (and the currencies from ``/asset/currencies``),
and parses OKX's envelopes itself: what it accepts here is what OKX's own shapes look like to
a third party. What it checks: the market (symbol, contract size, grid), the order book, the
balance, a post-only order placed, queried, amended, listed and cancelled, a post-only order
that would take (accepted, then cancelled by the venue, as OKX does), and the position after
a taker order, each compared with the sim's ground truth (``/admin/state``).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.test_sim_ccxt import mmtrio_sim

pytestmark = pytest.mark.integration
SYMBOL = "BTC/USDT:USDT"  # ccxt's name for BTC-USDT-SWAP


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    with mmtrio_sim("--venue", "okx", "--speed", "1") as info:
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


def _state(sim: dict[str, Any]) -> dict[str, Any]:
    with urllib.request.urlopen(f"{sim['admin']}/admin/state", timeout=10) as resp:
        return dict(json.loads(resp.read()))


def _order(sim: dict[str, Any], order_id: str) -> dict[str, Any]:
    (rec,) = [o for o in _state(sim)["orders"] if str(o["order_id"]) == order_id]
    return dict(rec)


def test_market_book_and_balance(okx: Any, sim: dict[str, Any]) -> None:
    assert sim["symbol"] == "BTC-USDT-SWAP"
    assert list(okx.markets) == [SYMBOL]
    market = okx.market(SYMBOL)
    assert market["id"] == "BTC-USDT-SWAP"
    assert market["swap"] and market["linear"] and market["settle"] == "USDT"
    assert market["contractSize"] == 0.01  # OKX's BTC-USDT-SWAP ctVal
    assert market["precision"]["price"] == 0.1
    assert market["precision"]["amount"] == 0.1  # contracts (lotSz)
    book = okx.fetch_order_book(SYMBOL, 5)
    assert 0 < len(book["bids"]) <= 5 and 0 < len(book["asks"]) <= 5
    assert book["bids"][0][0] < book["asks"][0][0]
    assert all(size > 0 for _, size, *_ in book["bids"] + book["asks"])
    balance = okx.fetch_balance()
    assert balance["USDT"]["total"] == 100_000.0


def test_post_only_order_lifecycle(okx: Any, sim: dict[str, Any]) -> None:
    bid = okx.fetch_order_book(SYMBOL, 1)["bids"][0][0]
    price = okx.price_to_precision(SYMBOL, bid * 0.9)  # far below the market: rests
    placed = okx.create_order(SYMBOL, "limit", "buy", 1, float(price), {"postOnly": True})
    oid = placed["id"]
    got = okx.fetch_order(oid, SYMBOL)
    assert got["status"] == "open" and got["amount"] == 1.0
    assert Decimal(str(got["price"])) == Decimal(price)
    rec = _order(sim, oid)  # ground truth: 1 contract is 0.01 BTC
    assert rec["status"] == "NEW" and Decimal(rec["qty"]) == Decimal("0.01"), rec
    assert Decimal(rec["price"]) == Decimal(price)

    lower = okx.price_to_precision(SYMBOL, float(price) * 0.99)
    okx.edit_order(oid, SYMBOL, "limit", "buy", 2, float(lower))
    got = okx.fetch_order(oid, SYMBOL)
    assert got["amount"] == 2.0 and Decimal(str(got["price"])) == Decimal(lower)
    assert [o["id"] for o in okx.fetch_open_orders(SYMBOL)] == [oid]
    rec = _order(sim, oid)
    assert Decimal(rec["qty"]) == Decimal("0.02") and Decimal(rec["price"]) == Decimal(lower)

    okx.cancel_order(oid, SYMBOL)
    assert okx.fetch_order(oid, SYMBOL)["status"] == "canceled"
    assert okx.fetch_open_orders(SYMBOL) == []
    assert _state(sim)["open_orders"] == []


def test_post_only_that_would_take_is_cancelled_by_the_venue(okx: Any) -> None:
    ask = okx.fetch_order_book(SYMBOL, 1)["asks"][0][0]
    price = okx.price_to_precision(SYMBOL, ask * 1.01)  # through the ask
    placed = okx.create_order(SYMBOL, "limit", "buy", 1, float(price), {"postOnly": True})
    got = okx.fetch_order(placed["id"], SYMBOL)
    assert got["status"] == "canceled" and got["filled"] == 0.0


def test_taker_order_opens_a_position(okx: Any, sim: dict[str, Any]) -> None:
    okx.create_order(SYMBOL, "market", "buy", 1)
    (pos,) = okx.fetch_positions([SYMBOL])
    assert pos["side"] == "long" and pos["contracts"] == 1.0
    assert pos["contractSize"] == 0.01
    truth = _state(sim)
    assert Decimal(truth["position"]["qty"]) == Decimal("0.01"), truth["position"]
    trades = okx.fetch_my_trades(SYMBOL)
    assert len(trades) == 1 and trades[0]["amount"] == 1.0 and trades[0]["side"] == "buy"
