"""A raw websocket client syncs a local book by Binance's algorithm and matches the sim's.

Comparison point: the test runs the sim in-process, so once the client's last applied ``u``
equals the venue's public ``seq`` (everything published has been applied) the local book must
equal the venue's public book (market + our orders) level for level. Our order reaches the
public book folded into the next market diff (sim/book.py), so it is checked once published.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from tests.integration.sim_helpers import running_sim, signed

pytestmark = pytest.mark.integration


def _apply(book: dict[Decimal, Decimal], levels: list[list[str]]) -> None:
    for p, q in levels:
        if Decimal(q) == 0:
            book.pop(Decimal(p), None)
        else:
            book[Decimal(p)] = Decimal(q)


async def test_local_book_from_snapshot_and_diffs_matches_the_sim_including_our_orders() -> None:
    async with running_sim() as (venue, urls), httpx.AsyncClient() as http:
        inst = venue.instrument
        ws_url = f"{urls.ws}/public/stream?streams=btcusdt@depth@100ms"
        async with open_websocket_url(ws_url) as ws:
            buffered: list[dict[str, Any]] = []
            with trio.fail_after(10):
                while len(buffered) < 3:  # the stream is open and flowing before the snapshot
                    buffered.append(json.loads(await ws.get_message()))
            snap = (
                await http.get(
                    f"{urls.rest}/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 1000}
                )
            ).json()
            bids = {Decimal(p): Decimal(q) for p, q in snap["bids"]}
            asks = {Decimal(p): Decimal(q) for p, q in snap["asks"]}
            last = snap["lastUpdateId"]
            prev_u: int | None = None
            placed = False
            our_price = Decimal(0)
            matched = 0
            checked_ours = 0
            with trio.fail_after(30):
                while matched < 2 or not checked_ours:
                    msg = buffered.pop(0) if buffered else json.loads(await ws.get_message())
                    assert msg["stream"] == "btcusdt@depth@100ms"
                    d = msg["data"]
                    if d["u"] < last:
                        continue
                    if prev_u is None:
                        # Binance's rule, strictly: the diff that made the snapshot's state
                        # (u == lastUpdateId) is on the stream and bridges it.
                        assert d["U"] <= last <= d["u"]
                    else:
                        assert d["pu"] == prev_u, "sequence gap"
                    _apply(bids, d["b"])
                    _apply(asks, d["a"])
                    prev_u = d["u"]
                    if not placed:
                        best_bid = max(bids)
                        our_price = best_bid - Decimal("5.0")
                        r = await signed(
                            http,
                            "POST",
                            f"{urls.rest}/fapi/v1/order",
                            {
                                "symbol": "BTCUSDT",
                                "side": "BUY",
                                "type": "LIMIT",
                                "timeInForce": "GTX",
                                "quantity": "0.123",
                                "price": f"{our_price:.2f}",
                                "newClientOrderId": "sync-1",
                            },
                        )
                        assert r.status_code == 200, r.text
                        placed = True
                    if prev_u == venue.book.seq:
                        top_b, top_a = venue.book.top(50)
                        local_b = sorted(bids.items(), reverse=True)[:50]
                        local_a = sorted(asks.items())[:50]
                        assert [
                            (inst.price_to_ticks(p), inst.qty_to_lots(q)) for p, q in local_b
                        ] == top_b
                        assert [
                            (inst.price_to_ticks(p), inst.qty_to_lots(q)) for p, q in local_a
                        ] == top_a
                        tick = inst.price_to_ticks(our_price)
                        ours = venue.book.our_bids.get(tick, 0)  # our lots as published
                        view = venue.engine.get("sync-1")
                        if ours and view is not None and view.cum_qty == 0:
                            market = Decimal(venue.book.bids.get(tick, 0)) * inst.lot_size
                            assert bids[our_price] - market == Decimal("0.123")
                            checked_ours += 1
                        matched += 1
            assert checked_ours >= 1
