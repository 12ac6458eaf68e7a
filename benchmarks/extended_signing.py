"""Extended's per-order signing cost on this machine, and what it means on a Raspberry Pi 4.

Every Extended order carries a Stark signature (``mmtrio.venues.extended.signing``): the
settlement amounts, the order hash (``fast_stark_crypto.get_order_msg_hash``) and the
signature (``fast_stark_crypto.sign``). This script times, per order, over ``--orders``
orders with varying prices, sizes, sides and nonces:

- ``hash_us``: the order hash alone;
- ``sign_us``: the signature of a hash alone;
- ``order_us``: what the gateway does per order before the request leaves: a nonce from
  the allocator (its block already reserved), amounts, hash, signature and the JSON body
  (``ExtendedGateway.signed_body``).

It prints JSON: p50/p99/max in µs, and the Pi figures, assuming a Raspberry Pi 4 is 5–10×
slower per core (the range the issue gives; not measured here): the signing time of one
requote (a bid and an ask, replaced as cancel + new, i.e. two signatures) and the share of
one core that signing takes at a requote every 100 ms.
Usage: .venv/bin/python benchmarks/extended_signing.py [--orders 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

from mmtrio.core.commands import PlaceOrder
from mmtrio.core.events import Side
from mmtrio.venues.extended.codec import parse_market
from mmtrio.venues.extended.gateway import ExtendedGateway, KnownOrders
from mmtrio.venues.extended.nonces import NonceAllocator
from mmtrio.venues.extended.signing import TESTNET_DOMAIN, StarkKey, stark_crypto

PRIVATE = "0x7a7ff6fd3cab02ccdcd4a572563f5976f8976899b03a39773795a3c486d4986"
PI_SLOWDOWN = (5, 10)
REQUOTE_INTERVAL_MS = 100
SIGNATURES_PER_REQUOTE = 2


def _stats(samples_ns: list[int]) -> dict[str, float]:
    us = sorted(s / 1000 for s in samples_ns)
    return {
        "p50": round(statistics.median(us), 1),
        "p99": round(us[int(len(us) * 0.99) - 1], 1),
        "max": round(us[-1], 1),
    }


def _market() -> Any:
    from tests.unit.test_extended_signing import sdk_market_json

    return parse_market([sdk_market_json()], "BTC-USD")


async def measure(orders: int) -> dict[str, Any]:
    crypto = stark_crypto()
    market = _market()
    key = StarkKey(PRIVATE, 10002, TESTNET_DOMAIN)
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        nonces = NonceAllocator(Path(tmp), block=orders + 1)
        fees = (Decimal("0.0002"), Decimal("0.0005"))
        gw = ExtendedGateway(
            None,  # type: ignore[arg-type]  # signed_body sends nothing
            market, key, nonces, fees, KnownOrders(), lambda: 1_780_000_000_000,
        )  # fmt: skip
        await nonces.next()  # reserve the block outside the timing
        hash_ns: list[int] = []
        sign_ns: list[int] = []
        order_ns: list[int] = []
        for i in range(orders):
            side = Side.BUY if i % 2 else Side.SELL
            cmd = PlaceOrder(f"mmt1-{i:x}", "BTC-USD", side, rng.randint(500_000, 800_000),
                             rng.randint(10, 5_000))  # fmt: skip
            t0 = time.perf_counter_ns()
            await gw.signed_body(cmd)
            order_ns.append(time.perf_counter_ns() - t0)
            t0 = time.perf_counter_ns()
            digest = key.order_hash(market.l2, 1000 + i, -43_445_116, 21_723, 1_706_000_000, i + 1)
            hash_ns.append(time.perf_counter_ns() - t0)
            t0 = time.perf_counter_ns()
            crypto.sign(private_key=int(PRIVATE, 16), msg_hash=digest)
            sign_ns.append(time.perf_counter_ns() - t0)
    order = _stats(order_ns)
    low, high = PI_SLOWDOWN
    per_requote = order["p50"] * SIGNATURES_PER_REQUOTE
    return {
        "orders": orders,
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "hash_us": _stats(hash_ns),
        "sign_us": _stats(sign_ns),
        "order_us": order,
        "raspberry_pi_4_estimate": {
            "slowdown_assumed": [low, high],
            "order_p50_ms": [
                round(order["p50"] * low / 1000, 2),
                round(order["p50"] * high / 1000, 2),
            ],
            "order_p99_ms": [
                round(order["p99"] * low / 1000, 2),
                round(order["p99"] * high / 1000, 2),
            ],
            "requote_signing_ms": [
                round(per_requote * low / 1000, 2),
                round(per_requote * high / 1000, 2),
            ],
            "core_share_at_requote_every_100ms_pct": [
                round(per_requote * low / 1000 / REQUOTE_INTERVAL_MS * 100, 1),
                round(per_requote * high / 1000 / REQUOTE_INTERVAL_MS * 100, 1),
            ],
        },
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=5_000)
    args = ap.parse_args()
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print(json.dumps(trio.run(measure, args.orders), indent=1))
