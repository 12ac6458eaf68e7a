"""The simulated Hyperliquid venue's candles (``candleSnapshot``, the ``candle`` subscription)
and ``allMids`` subscription, from the replayed trades: OHLC, volume and count computed here
from the trades fed, prices on the 5-significant-figure grid."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mmtrio.core.events import Trade
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.hyperliquid import info
from tests.unit.test_hyperliquid_sim_l2 import ASKS, BIDS, front_with_book

MIN = 60_000


def feed(front: Any, trades: list[tuple[int, int, int]]) -> None:
    """(price ticks, lots, market ms) per trade, through the tape and the front end."""
    for n, (price, lots, ts) in enumerate(trades):
        t = Trade("BTCUSDT", 1000 + n, price, lots, False, ts)
        front.venue.tape.on_trade(t)
        front.on_trade(t)


def test_candle_snapshot_sums_each_interval() -> None:
    front = front_with_book(BIDS, ASKS)
    off = front.venue.ts_offset
    base = 10 * 5 * MIN - off % (5 * MIN)  # market ms opening a 5-minute interval on the wire
    trades = [(618123, 100, base), (618301, 50, base + MIN), (617999, 20, base + 2 * MIN),
              (618050, 30, base + 5 * MIN)]  # fmt: skip
    feed(front, trades)
    body: dict[str, Any] = {"type": "candleSnapshot",
                            "req": {"coin": "BTC", "interval": "5m", "startTime": 0}}  # fmt: skip
    rows, _ = info.answer(front, body)
    t0 = base + off
    assert rows == [
        # open 61812.3 -> nearest 61812; close 61799.9 -> 61800; high 61830.1 up -> 61831;
        # low 61799.9 down -> 61799; 0.17 BTC in 3 trades
        {"t": t0, "T": t0 + 5 * MIN - 1, "s": "BTC", "i": "5m", "o": "61812", "c": "61800",
         "h": "61831", "l": "61799", "v": "0.17", "n": 3},
        {"t": t0 + 5 * MIN, "T": t0 + 10 * MIN - 1, "s": "BTC", "i": "5m", "o": "61805",
         "c": "61805", "h": "61805", "l": "61805", "v": "0.03", "n": 1},
    ]  # fmt: skip
    # endTime before the second interval leaves it out; an unknown coin has none
    rows, _ = info.answer(front, {**body, "req": {**body["req"], "endTime": t0 + MIN}})
    assert len(rows) == 1
    assert info.answer(front, {**body, "req": {**body["req"], "coin": "ETH"}})[0] == []


@pytest.mark.parametrize(
    "req",
    [None, {"interval": "1m", "startTime": 0}, {"coin": "BTC", "interval": "7m", "startTime": 0},
     {"coin": "BTC", "interval": "1M", "startTime": 0}, {"coin": "BTC", "interval": "1m"},
     {"coin": "BTC", "interval": "1m", "startTime": "0"}],
)  # fmt: skip
def test_a_bad_candle_request_is_a_422(req: Any) -> None:
    front = front_with_book(BIDS, ASKS)
    body = {"type": "candleSnapshot"} if req is None else {"type": "candleSnapshot", "req": req}
    with pytest.raises(SimBadRequest) as err:
        info.answer(front, body)
    assert err.value.status == 422


async def test_candle_and_all_mids_subscriptions() -> None:
    front = front_with_book(BIDS, ASKS)
    conn = front.ws.open("/ws")
    front.venue.hub.add(conn)
    sub = {"type": "candle", "coin": "BTC", "interval": "1m"}
    (echo,) = await front.ws.on_message(
        conn, json.dumps({"method": "subscribe", "subscription": sub})
    )
    assert json.loads(echo)["channel"] == "subscriptionResponse"  # no trade yet: no candle
    # Both trades in one minute on the wire: the venue's clock offset (wall time at start)
    # moves market ms 0 anywhere in a minute, and trades at 0 and 1000 straddled a minute
    # boundary when the test started in a minute's last second (CI, 1 run in ~60).
    base = 10 * MIN - front.venue.ts_offset % MIN
    feed(front, [(618123, 100, base), (618301, 50, base + 1000)])
    first = json.loads(conn.receive.receive_nowait()[1])
    second = json.loads(conn.receive.receive_nowait()[1])
    assert first["channel"] == second["channel"] == "candle"
    assert (first["data"]["n"], first["data"]["v"]) == (1, "0.1")
    assert (second["data"]["n"], second["data"]["v"], second["data"]["h"]) == (2, "0.15", "61831")
    bad = {"method": "subscribe", "subscription": {**sub, "interval": "2m"}}
    (reply,) = await front.ws.on_message(conn, json.dumps(bad))
    assert json.loads(reply)["channel"] == "error"

    mids = {"method": "subscribe", "subscription": {"type": "allMids"}}
    (_, snapshot) = await front.ws.on_message(conn, json.dumps(mids))
    # mid of 61812.3 and 61812.4
    assert json.loads(snapshot)["data"] == {"mids": {"BTC": "61812.35"}}
