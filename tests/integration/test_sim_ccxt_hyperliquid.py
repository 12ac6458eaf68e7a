"""Protocol fidelity: ccxt's ``hyperliquid`` class (a client nobody here wrote: its own
msgpack, keccak and secp256k1 signing) against ``mmtrio sim --venue hyperliquid``.

Markets (``metaAndAssetCtxs``), the order book (``l2Book``), a post-only order placed
(``Alo``, with a cloid), listed (``openOrders``) and cancelled (``cancel``), a taker order
and its fill (``userFills``), the position (``clearinghouseState``). Every action ccxt
signs is verified by the sim recovering its signer and checking it is the account's agent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_sim_ccxt import mmtrio_sim

pytestmark = pytest.mark.integration
CLOID = "0x6363787400000001000000000001abcd"  # ccxt's own id, not one of ours ("cct" marker)


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    with mmtrio_sim("--venue", "hyperliquid", "--speed", "1") as info:
        yield info


def client(info: dict[str, Any]) -> Any:
    import ccxt

    creds = info["credentials"]
    ex = ccxt.hyperliquid(
        {
            "walletAddress": creds["account"],
            "privateKey": creds["private_key"],
            "enableRateLimit": False,
            # no builder-fee approval (a user-signed action the sim does not serve), perps only
            "options": {"builderFee": False, "fetchMarkets": {"types": ["swap"]}},
        }
    )
    ex.set_sandbox_mode(True)  # testnet signing (phantom agent source "b"), as the sim expects
    ex.urls["api"] = {"public": info["rest"], "private": info["rest"]}
    return ex


def test_ccxt_trades_on_the_simulated_hyperliquid(sim: dict[str, Any]) -> None:
    assert sim["venue"] == "hyperliquid" and sim["symbol"] == "BTC"
    ex = client(sim)
    markets = ex.load_markets()
    assert list(markets) == ["BTC/USDC:USDC"]
    market = markets["BTC/USDC:USDC"]
    assert market["precision"]["amount"] == 0.001 and market["limits"]["cost"]["min"] == 10.0
    book = ex.fetch_order_book("BTC/USDC:USDC")
    assert 0 < len(book["bids"]) <= 20 and book["bids"][0][0] < book["asks"][0][0]

    price = float(ex.price_to_precision("BTC/USDC:USDC", book["bids"][0][0] * 0.97))
    order = ex.create_order(
        "BTC/USDC:USDC", "limit", "buy", 0.002, price, {"postOnly": True, "clientOrderId": CLOID}
    )
    (listed,) = ex.fetch_open_orders("BTC/USDC:USDC")
    assert listed["id"] == order["id"] and listed["price"] == price and listed["amount"] == 0.002
    assert listed["clientOrderId"] == CLOID
    assert ex.cancel_order(order["id"], "BTC/USDC:USDC")["info"] == "success"
    assert ex.fetch_open_orders("BTC/USDC:USDC") == []

    ex.create_order("BTC/USDC:USDC", "market", "buy", 0.002, book["asks"][0][0])
    trades = ex.fetch_my_trades("BTC/USDC:USDC")
    assert sum(t["amount"] for t in trades) == pytest.approx(0.002)
    assert {t["side"] for t in trades} == {"buy"}
    (position,) = ex.fetch_positions(["BTC/USDC:USDC"])
    assert position["side"] == "long" and position["contracts"] == pytest.approx(0.002)
