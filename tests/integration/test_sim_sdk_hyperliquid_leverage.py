"""The official ``hyperliquid-python-sdk``'s ``update_leverage`` against ``mmtrio sim --venue
hyperliquid`` (a real process): accepted 1..40 cross, refused above the asset's
``maxLeverage``, for isolated margin (the sim keeps one cross account) and for an unknown
asset; ``clearinghouseState`` then reports the leverage and margins of notional / leverage.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.test_sim_ccxt import mmtrio_sim

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    with mmtrio_sim("--venue", "hyperliquid", "--speed", "1") as info:
        yield info


def test_the_sdk_sets_the_leverage_and_the_margins_follow(sim: dict[str, Any]) -> None:
    from eth_account import Account
    from hyperliquid.exchange import Exchange
    from hyperliquid.info import Info

    account = sim["credentials"]["account"]
    info = Info(sim["rest"], skip_ws=True)
    ex = Exchange(Account.from_key(sim["credentials"]["private_key"]), sim["rest"],
                  account_address=account)  # fmt: skip

    assert ex.update_leverage(10, "BTC")["status"] == "ok"
    too_high = ex.update_leverage(41, "BTC")
    assert too_high["status"] == "err" and "1 to 40" in too_high["response"], too_high
    isolated = ex.update_leverage(5, "BTC", is_cross=False)
    assert isolated["status"] == "err" and "cross only" in isolated["response"], isolated

    # a position, so that the margin used shows the leverage
    asks = info.l2_snapshot("BTC")["levels"][1]
    high = float(round(Decimal(asks[0]["px"]) * Decimal("1.01")))
    taken = ex.order("BTC", True, 0.002, high, {"limit": {"tif": "Ioc"}})
    assert "filled" in taken["response"]["data"]["statuses"][0], taken

    state = info.user_state(account)
    (pos,) = [p["position"] for p in state["assetPositions"]]
    assert pos["leverage"] == {"type": "cross", "value": 10}
    margin, value = Decimal(pos["marginUsed"]), Decimal(pos["positionValue"])
    assert margin == (value / 10).quantize(Decimal("0.000001"))
    assert Decimal(state["marginSummary"]["totalMarginUsed"]) == margin

    assert ex.update_leverage(20, "BTC")["status"] == "ok"
    (pos,) = [p["position"] for p in info.user_state(account)["assetPositions"]]
    assert pos["leverage"]["value"] == 20
    assert Decimal(pos["marginUsed"]) < margin  # half the margin for the same position
