"""Signing cost of one Hyperliquid order, broken into its stages. Prints JSON.

What the gateway does per order, timed with ``time.perf_counter_ns`` over ``--n`` orders
(each a fresh cloid, price and nonce, as live): building the ``order`` action (wire numbers
on the significant-figure grid), msgpack + keccak of the action hash, the EIP-712 digest of
the phantom agent, the secp256k1 signature (coincurve), and the whole ``L1Signer.sign`` +
payload. For comparison, the same signature through eth-account's ``encode_typed_data`` and
``sign_message`` (the SDK's path) when eth-account is installed (the ``test`` extra).

Usage: .venv/bin/python benchmarks/hyperliquid_signing.py [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Any

from mmtrio.core.commands import PlaceOrder
from mmtrio.core.events import Side
from mmtrio.venues.hyperliquid.client_ids import CloidFormat
from mmtrio.venues.hyperliquid.codec_exchange import exchange_payload, place_action
from mmtrio.venues.hyperliquid.codec_info import instrument_of
from mmtrio.venues.hyperliquid.signing import AgentKey, L1Signer, action_hash, agent_digest

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"


def stats(samples: list[int]) -> dict[str, float]:
    s = sorted(samples)
    n = len(s)
    return {
        "p50_us": round(s[n // 2] / 1000, 1),
        "p99_us": round(s[min(n - 1, int(n * 0.99))] / 1000, 1),
        "mean_us": round(statistics.fmean(s) / 1000, 1),
        "max_us": round(s[-1] / 1000, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    inst = instrument_of("BTC", 5)
    ids = CloidFormat("mmt")
    key = AgentKey(KEY)
    signer = L1Signer(key, mainnet=True)
    nonce0 = 1_750_000_000_000
    stages: dict[str, list[int]] = {k: [] for k in ("action", "hash", "digest", "sign", "total")}
    clock = time.perf_counter_ns
    for i in range(args.n):
        price = inst.floor_price(600_000 + (i % 500) * 10)
        cmd = PlaceOrder(ids.make(1, i), "BTC", Side.BUY if i % 2 else Side.SELL, price, 100 + i)
        t0 = clock()
        action = place_action(0, inst, cmd)
        t1 = clock()
        h = action_hash(action, nonce0 + i)
        t2 = clock()
        d = agent_digest(h, mainnet=True)
        t3 = clock()
        key.sign_digest(d)
        t4 = clock()
        exchange_payload(action, nonce0 + i, signer.sign(action, nonce0 + i), None)
        t5 = clock()
        for name, a, b in (("action", t0, t1), ("hash", t1, t2), ("digest", t2, t3),
                           ("sign", t3, t4)):  # fmt: skip
            stages[name].append(b - a)
        stages["total"].append((t1 - t0) + (t5 - t4))  # build + sign + payload, as the gateway
    out: dict[str, Any] = {
        "benchmark": "hyperliquid_signing",
        "orders": args.n,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "stages": {k: stats(v) for k, v in stages.items()},
    }
    out["eth_account_path"] = eth_account_cost(args.n)
    print(json.dumps(out, indent=2))


def eth_account_cost(n: int) -> dict[str, Any] | None:
    try:
        from eth_account import Account
        from eth_account.messages import encode_typed_data
    except ImportError:
        return None
    wallet = Account.from_key(KEY)
    inst = instrument_of("BTC", 5)
    ids = CloidFormat("mmt")
    samples: list[int] = []

    def sign(h: bytes) -> Any:
        data = {
            "domain": {"chainId": 1337, "name": "Exchange", "version": "1",
                       "verifyingContract": "0x0000000000000000000000000000000000000000"},
            "types": {"Agent": [{"name": "source", "type": "string"},
                                {"name": "connectionId", "type": "bytes32"}],
                      "EIP712Domain": [{"name": "name", "type": "string"},
                                       {"name": "version", "type": "string"},
                                       {"name": "chainId", "type": "uint256"},
                                       {"name": "verifyingContract", "type": "address"}]},
            "primaryType": "Agent",
            "message": {"source": "a", "connectionId": h},
        }  # fmt: skip
        return wallet.sign_message(encode_typed_data(full_message=data))

    for i in range(min(n, 1000)):
        cmd = PlaceOrder(ids.make(1, i), "BTC", Side.BUY, 600_000, 100 + i)
        t0 = time.perf_counter_ns()
        action = place_action(0, inst, cmd)
        sign(action_hash(action, 1_750_000_000_000 + i))
        samples.append(time.perf_counter_ns() - t0)
    return {"orders": len(samples), **stats(samples)}


if __name__ == "__main__":
    main()
