"""The official ``hyperliquid-python-sdk`` websocket against ``mmtrio sim --venue hyperliquid``.

The SDK opens its websocket at ``"ws" + base_url[4:] + "/ws"``: the REST port, as on the
venue. Its websocket thread fails silently (a refused upgrade only logs), so the test asserts
on the messages its callbacks received: the ``l2Book`` snapshots (full and aggregated with
``nSigFigs``), the ``userFills`` snapshot, and the ``orderUpdates`` and ``userFills`` of an
order the SDK's own ``Exchange`` places, cancels and fills. Real sockets and a real process:
the waits are bounded in real time, nothing asserts a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.test_sim_ccxt import mmtrio_sim

pytestmark = pytest.mark.integration
WAIT_S = 30.0


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    with mmtrio_sim("--venue", "hyperliquid", "--speed", "1") as info:
        yield info


class Inbox:
    """Messages the SDK's websocket thread delivered, by the subscription they answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.got: dict[str, list[Any]] = {}

    def callback(self, name: str) -> Callable[[Any], None]:
        def on(msg: Any) -> None:
            with self.lock:
                self.got.setdefault(name, []).append(msg)

        return on

    def wait(self, name: str, test: Callable[[Any], bool]) -> Any:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with self.lock:
                for msg in self.got.get(name, []):
                    if test(msg):
                        return msg
            time.sleep(0.05)
        with self.lock:
            seen = self.got.get(name, [])
        raise AssertionError(f"no matching {name} message within {WAIT_S} s; got {seen[:3]}")


def three_figures(msg: Any) -> bool:
    levels = msg["data"]["levels"][0] + msg["data"]["levels"][1]
    pxs = [Decimal(level["px"]) for level in levels]
    return all(px % Decimal(10) ** (px.adjusted() - 2) == 0 for px in pxs)


def test_the_sdk_websocket_on_the_rest_base_receives_book_and_user_messages(
    sim: dict[str, Any],
) -> None:
    from eth_account import Account
    from hyperliquid.exchange import Exchange
    from hyperliquid.info import Info

    account = sim["credentials"]["account"]
    assert sim["rest"] != sim["ws"].replace("ws://", "http://")  # the REST port, not the ws one
    info = Info(sim["rest"], skip_ws=False)
    inbox = Inbox()
    try:
        info.subscribe({"type": "l2Book", "coin": "BTC"}, inbox.callback("book"))
        info.subscribe({"type": "l2Book", "coin": "BTC", "nSigFigs": 3}, inbox.callback("agg"))
        info.subscribe({"type": "userFills", "user": account}, inbox.callback("fills"))
        info.subscribe({"type": "orderUpdates", "user": account}, inbox.callback("orders"))

        book = inbox.wait("book", lambda m: m["channel"] == "l2Book")["data"]
        assert book["coin"] == "BTC"
        bids, asks = book["levels"]
        assert bids and asks and Decimal(bids[0]["px"]) < Decimal(asks[0]["px"])
        # Aggregated to 3 significant figures: every price a multiple of its bucket. (The SDK
        # routes every l2Book message of the coin to both callbacks, nSigFigs or not.)
        agg = inbox.wait("agg", lambda m: m["channel"] == "l2Book" and three_figures(m))
        assert agg["data"]["levels"][0] and agg["data"]["levels"][1]
        snapshot = inbox.wait("fills", lambda m: m["data"].get("isSnapshot"))
        assert snapshot["data"]["user"] == account

        wallet = Account.from_key(sim["credentials"]["private_key"])
        ex = Exchange(wallet, sim["rest"], account_address=account)
        best_bid = Decimal(bids[0]["px"])
        far = float(round(best_bid * Decimal("0.97")))  # whole dollars: on the 5-figure grid
        placed = ex.order("BTC", True, 0.002, far, {"limit": {"tif": "Alo"}})
        assert placed["status"] == "ok", placed
        oid = placed["response"]["data"]["statuses"][0]["resting"]["oid"]
        opened = inbox.wait("orders", lambda m: any(u["order"]["oid"] == oid for u in m["data"]))
        assert [u["status"] for u in opened["data"] if u["order"]["oid"] == oid] == ["open"]
        assert ex.cancel("BTC", oid)["status"] == "ok"
        inbox.wait(
            "orders",
            lambda m: any(
                u["order"]["oid"] == oid and u["status"] == "canceled" for u in m["data"]
            ),
        )

        # a taker buy: its fill arrives on userFills (not the snapshot)
        best_ask = Decimal(asks[0]["px"])
        high = float(round(best_ask * Decimal("1.01")))
        taken = ex.order("BTC", True, 0.002, high, {"limit": {"tif": "Ioc"}})
        assert "filled" in taken["response"]["data"]["statuses"][0], taken
        fill = inbox.wait("fills", lambda m: not m["data"].get("isSnapshot"))
        (row,) = fill["data"]["fills"]
        assert (
            row["coin"] == "BTC" and row["side"] == "B" and Decimal(row["sz"]) == Decimal("0.002")
        )
    finally:
        info.disconnect_websocket()
