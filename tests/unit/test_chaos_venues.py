"""The chaos harness's venue terms: credentials into the bot's environment and config, and a
foreign order each simulated venue accepts."""

from __future__ import annotations

import pytest

from mmtrio.chaos.botconfig import ChaosHarnessError
from mmtrio.chaos.venues import chaos_venue
from mmtrio.venues.hyperliquid.client_ids import valid_cloid


def test_credentials_become_the_bots_environment_and_account() -> None:
    hl = chaos_venue("hyperliquid")
    env, account = hl.credentials({"credentials": {"private_key": "0xab", "account": "0xcd"}})
    assert env == {"MMTRIO_PRIVATE_KEY": "0xab"} and account == "0xcd"
    env, account = chaos_venue("binance").credentials(
        {"credentials": {"api_key": "k", "api_secret": "s"}}
    )
    assert env == {"MMTRIO_API_KEY": "k", "MMTRIO_API_SECRET": "s"} and account is None
    with pytest.raises(ChaosHarnessError, match="no credentials"):
        hl.credentials({"rest": "http://127.0.0.1:1"})


def test_foreign_orders_in_each_venues_terms() -> None:
    hl = chaos_venue("hyperliquid")
    cid = hl.foreign_client_id("chaos-foreign-3")
    assert valid_cloid(cid) and cid != hl.foreign_client_id("chaos-foreign-4")
    order = hl.foreign_order("BTC", "BUY", 58_765.4321, 2, cid)
    assert order == {"b": "true", "p": "58765", "s": "0.002", "tif": "Alo", "c": cid}
    assert hl.foreign_order("BTC", "SELL", 61_234.9, 2, cid)["p"] == "61235"
    binance = chaos_venue("binance")
    assert binance.foreign_client_id("chaos-foreign-3") == "chaos-foreign-3"
    order = binance.foreign_order("BTCUSDT", "SELL", 61_234.56, 2, "x")
    assert order["price"] == "61234.6" and order["timeInForce"] == "GTX"
    with pytest.raises(ChaosHarnessError, match="binance, hyperliquid"):
        chaos_venue("kraken")
