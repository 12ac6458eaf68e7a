"""Replay speed of the simulated venue (× real time) while serving one connected client.

The client syncs a local book from the depth stream (snapshot + diffs, checking pu/u) and
keeps two post-only orders resting (re-placing one whenever it is filled or cancelled). The
sim replays a recording once (default the shipped BTCUSDT 2024-08-08; the symbol and its grid
come from the data), as fast as it can (speed 1e6). Prints JSON.
Usage: .venv/bin/python benchmarks/sim_replay.py [--data FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import trio
from trio_websocket import open_websocket_url

from mmtrio.sim.binance.auth import DEFAULT_CREDENTIALS, sign
from mmtrio.sim.binance.frontend import FRONT_END
from mmtrio.sim.paper import replay_driver
from mmtrio.sim.server import serve_sim
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.binance.recording import scan_recording

ROOT = Path(__file__).resolve().parents[1]


async def run(data: Path) -> dict[str, object]:
    inst = scan_recording([data]).instrument
    driver = replay_driver([data], inst, loop=False)
    venue = SimVenue(driver, SimConfig(speed=1e6))
    FRONT_END.create(venue)
    symbol, sym = inst.symbol, inst.symbol.lower()
    start_ts = venue.market_ts
    creds = DEFAULT_CREDENTIALS
    diffs = gaps = placed = 0
    async with trio.open_nursery() as nursery:
        t0 = time.perf_counter()
        urls = await nursery.start(serve_sim, venue)
        async with (
            httpx.AsyncClient(base_url=urls.rest) as http,
            open_websocket_url(
                f"{urls.ws}/public/stream?streams={sym}@depth@0ms", max_message_size=1 << 24
            ) as ws,
        ):
            snap = (
                await http.get("/fapi/v1/depth", params={"symbol": symbol, "limit": 1000})
            ).json()
            last = snap["lastUpdateId"]
            bids = {p: q for p, q in snap["bids"]}
            prev: int | None = None

            async def keep_two_orders() -> None:
                nonlocal placed
                n = 0
                while not venue.finished:
                    open_n = len(venue.engine.open_orders())
                    if open_n < 2 and bids:
                        n += 1
                        best = inst.price_to_ticks(max(bids, key=float))
                        price = inst.price_str(best - 200 - n % 5)  # 200 ticks below: rests
                        q = urlencode(
                            {
                                "symbol": symbol,
                                "side": "BUY",
                                "type": "LIMIT",
                                "timeInForce": "GTX",
                                "quantity": inst.qty_str(5 * inst.min_qty),
                                "price": price,
                                "newClientOrderId": f"bench-{n}",
                                "timestamp": int(time.time() * 1000),
                            }
                        )
                        r = await http.post(
                            f"/fapi/v1/order?{q}&signature={sign(creds.api_secret, q)}",
                            headers={"X-MBX-APIKEY": creds.api_key},
                        )
                        placed += r.status_code == 200
                    await trio.sleep(0.01)

            nursery.start_soon(keep_two_orders)
            # until the replay ended AND the client has applied every diff published
            while not (venue.finished and prev == venue.book.seq):
                with trio.move_on_after(1.0):
                    msg = json.loads(await ws.get_message())["data"]
                    if msg["u"] < last:
                        continue
                    if prev is not None and msg["pu"] != prev:
                        gaps += 1
                    prev = msg["u"]
                    diffs += 1
                    for p, q in msg["b"]:
                        if float(q) == 0:
                            bids.pop(p, None)
                        else:
                            bids[p] = q
        wall = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    sim_seconds = (venue.market_ts - start_ts) / 1000.0
    return {
        "benchmark": "sim_replay",
        "data": data.name,
        "symbol": symbol,
        "market_messages": venue.messages,
        "sim_seconds": round(sim_seconds, 1),
        "wall_seconds": round(wall, 2),
        "speed_x_real_time": round(sim_seconds / wall, 1),
        "client_diffs_received": diffs,
        "client_sequence_gaps": gaps,
        "orders_placed": placed,
        "fills": len(venue.account.fills),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", type=Path, default=ROOT / "data" / "binance-usdm" / "btcusdt_20240808.gz"
    )
    args = parser.parse_args()
    print(json.dumps(trio.run(run, args.data)))


if __name__ == "__main__":
    main()
