"""Speed of the pure core on the shipped BTCUSDT recording; prints JSON, asserts nothing.

1. ``step``: median / p99 / max µs of ``MarketMaker.step`` on every depth-diff event of
   ``data/binance-usdm/btcusdt_20240808.gz`` (345 s, 6,551 diffs, 21,313 trades), with a fake
   venue that acknowledges every request at once (acks are stepped too, but not timed).
2. ``replay``: events/s through the book (``OrderBook``) + estimators (EWMA volatility,
   intensity on mids and trades), no strategy, no network. Reading the file is done before
   timing, by the Binance recording reader (the live codec and depth sequencer: continuity is
   the venue package's job now, so it is not part of the core's time).

Run: ``.venv/bin/python benchmarks/core_step.py [--seconds N]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.unit.test_strategy.make_config (the test config)

from tests.unit.test_strategy import make_config  # noqa: E402

from mmtrio.core.book import BookOutcome, OrderBook  # noqa: E402
from mmtrio.core.client_ids import ClientIdGenerator  # noqa: E402
from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, Command, PlaceOrder  # noqa: E402
from mmtrio.core.estimators import EwmaVolatility, IntensityEstimator  # noqa: E402
from mmtrio.core.events import (  # noqa: E402
    AmendAccepted,
    BookDelta,
    BookSnapshot,
    CancelAccepted,
    Event,
    PlaceAccepted,
    Trade,
)
from mmtrio.core.instruments import BTCUSDT  # noqa: E402
from mmtrio.core.strategy import MarketMaker  # noqa: E402
from mmtrio.venues.binance.client_ids import client_id_format  # noqa: E402
from mmtrio.venues.binance.recording import RecordingReader  # noqa: E402

DATA = ROOT / "data" / "binance-usdm" / "btcusdt_20240808.gz"


def load(seconds: float | None) -> list[Event]:
    """Snapshot, deltas and trades as the live connector would deliver them, in file order."""
    out: list[Event] = []
    start: int | None = None
    for local_ns, ev in RecordingReader([DATA], BTCUSDT, book_ticker=False):
        if isinstance(ev, BookSnapshot):
            start = local_ns
        if isinstance(ev, BookSnapshot | BookDelta | Trade):
            out.append(ev)
        if seconds is not None and start is not None and local_ns - start > seconds * 1e9:
            break
    return out


def acks(cmds: list[Command], now: int) -> list[Event]:
    out: list[Event] = []
    for cmd in cmds:
        if isinstance(cmd, PlaceOrder):
            out.append(PlaceAccepted(cmd.client_id, 1, now))
        elif isinstance(cmd, AmendOrder):
            out.append(AmendAccepted(cmd.client_id, cmd.price, cmd.qty, now))
        elif isinstance(cmd, CancelOrder):
            out.append(CancelAccepted(cmd.client_id, now))
        elif isinstance(cmd, CancelAll):
            pass  # nothing rests at a CancelAll in this run (no kill switch)
    return out


def bench_step(events: list[Event]) -> dict[str, float]:
    mm = MarketMaker(make_config(), ClientIdGenerator(client_id_format("b"), 1))
    now = 0
    times: list[int] = []
    commands = 0
    clock = time.perf_counter_ns
    for ev in events:
        if isinstance(ev, BookSnapshot | BookDelta | Trade):
            now = max(now, ev.ts)
        t0 = clock()
        cmds = mm.step(ev, now)
        t1 = clock()
        if isinstance(ev, BookDelta):
            times.append(t1 - t0)
        commands += len(cmds)
        pending = acks(cmds, now)
        while pending:
            more = mm.step(pending.pop(0), now)
            commands += len(more)
            pending.extend(acks(more, now))
    times.sort()
    us = [t / 1000 for t in times]
    return {
        "depth_diffs": len(us),
        "median_us": round(statistics.median(us), 2),
        "p99_us": round(us[int(0.99 * (len(us) - 1))], 2),
        "max_us": round(us[-1], 2),
        "commands": commands,
    }


def bench_replay(events: list[Event], repeats: int) -> dict[str, float]:
    best = float("inf")
    for _ in range(repeats):
        book = OrderBook("BTCUSDT")
        vol = EwmaVolatility(10_000, 20)
        intensity = IntensityEstimator(60_000, 50.0, 50, fallback_a=1.0, fallback_k=0.5)
        t = 0
        t0 = time.perf_counter()
        for ev in events:
            if isinstance(ev, BookDelta):
                t = max(t, ev.ts)
                if book.apply_delta(ev) is BookOutcome.APPLIED:
                    mid = book.mid()
                    if mid is not None:
                        vol.update(mid, t)
                        intensity.on_mid(mid, t)
            elif isinstance(ev, Trade):
                t = max(t, ev.ts)
                intensity.on_trade(float(ev.price), ev.aggressor, t)
            elif isinstance(ev, BookSnapshot):
                t = max(t, ev.ts)
                book.apply_snapshot(ev)
        best = min(best, time.perf_counter() - t0)
    return {
        "events": len(events),
        "seconds": round(best, 4),
        "events_per_s": round(len(events) / best),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="replay only this much")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    events = load(args.seconds)
    result = {
        "benchmark": "core_step",
        "recording": DATA.name,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "step": bench_step(events),
        "replay_book_estimators": bench_replay(events, args.repeats),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
