"""ccxt's ``okx.close_position`` against `mmtrio sim --venue okx` (a real process on
loopback): ``POST /api/v5/trade/close-position`` closes the whole position at market with a
reduce-only order, ``autoCxl`` cancels the pending reduce-only orders first, and a close
without a position is OKX's 51023 (ccxt's exception for it), not a silent success.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_sim_ccxt import mmtrio_sim
from tests.integration.test_sim_okx_ccxt import SYMBOL
from tests.integration.test_sim_okx_ccxt_history import okx  # noqa: F401 - the client fixture

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    with mmtrio_sim("--venue", "okx", "--speed", "0.001") as info:
        yield info


def contracts(client: Any) -> float:
    return sum(float(p["info"]["pos"]) for p in client.fetch_positions([SYMBOL]))


def test_close_position_flattens_and_cancels_reduce_only_orders(okx: Any) -> None:  # noqa: F811
    import ccxt

    okx.create_order(SYMBOL, "market", "buy", 3)
    assert contracts(okx) == 3
    ask = okx.fetch_order_book(SYMBOL, 1)["asks"][0][0]
    far = float(okx.price_to_precision(SYMBOL, ask * 1.05))
    reducing = okx.create_order(SYMBOL, "limit", "sell", 1, far, {"reduceOnly": True})

    done = okx.close_position(SYMBOL, None, {"mgnMode": "cross", "autoCxl": True,
                                             "clOrdId": "close1"})  # fmt: skip
    assert done["info"]["clOrdId"] == "close1" and done["info"]["instId"] == "BTC-USDT-SWAP"
    assert contracts(okx) == 0
    assert okx.fetch_order(reducing["id"], SYMBOL)["status"] == "canceled"
    closing = okx.fetch_order("close1", SYMBOL, {"clOrdId": "close1"})
    assert closing["side"] == "sell" and closing["filled"] == 3 and closing["reduceOnly"]

    with pytest.raises(ccxt.ExchangeError, match="51023"):
        okx.close_position(SYMBOL, None, {"mgnMode": "cross"})
    with pytest.raises(ccxt.ExchangeError, match="51000"):
        okx.close_position(SYMBOL, None, {"mgnMode": "portfolio"})
