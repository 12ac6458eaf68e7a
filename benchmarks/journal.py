"""Journal benchmark (JSON on stdout): sustained commit rate and event-loop stalls.

1. ``sustained``: records/s committed by ``Journal.write_batch`` in batches, for
   ``synchronous=FULL`` and ``NORMAL`` (the durability decision documented in
   ``mmtrio.runtime.journal``).
2. ``stall``: a Trio app journals ``--rate`` records/s (mostly mid samples, a durable fill every
   100 ms) through ``JournalWriter`` for ``--seconds`` while a probe task sleeps 1 ms in a loop
   and records how late it wakes up. Target: worst stall < 5 ms. Nothing is asserted.
3. ``encode_us``: what ``JournalWriter.append`` now costs the event loop per record (encoding
   to the final row text, ``journal_schema.encode_record``).
4. ``stall_control`` (``--control``): the same probe and producer loop with nothing journaled:
   the machine's own scheduling noise, the floor under any ``stall`` figure. On a shared,
   loaded host it alone can exceed 5 ms; compare ``stall`` against it, not against zero.

    .venv/bin/python benchmarks/journal.py [--seconds 10] [--rate 5000] [--control]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import trio

from mmtrio.core.events import Fill, Side
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_schema import Kind, Record, encode_record
from mmtrio.runtime.journal_writer import JournalWriter


def _mid(i: int) -> Record:
    return Record(Kind.MID_SAMPLE, i, {"symbol": "BTCUSDT", "bid": 600_000 + i % 7, "ask": 600_010})


def sustained(sync: str, n: int, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        j = Journal.open(Path(d), synchronous=sync)
        j.next_epoch()
        records = [_mid(i) for i in range(n)]
        t0 = time.perf_counter()
        for k in range(0, n, batch):
            j.write_batch(records[k : k + batch])
        dt = time.perf_counter() - t0
        single_t0 = time.perf_counter()
        for i in range(200):  # one record per commit: the cost of one fsynced transaction
            j.write_batch([_mid(i)])
        single = (time.perf_counter() - single_t0) / 200
        j.close()
    return {
        "records_per_s": round(n / dt),
        "batch": batch,
        "commit_ms_single_record": round(single * 1000, 3),
    }


def _fill_record(trade_id: int) -> Record:
    f = Fill("BTCUSDT", trade_id, "c", 1, Side.BUY, 600_000, 1, Decimal("0.01"), "USDT", True, 0)
    return js.fill(f, 0, 600_000, 600_010)


def encode_cost(n: int = 20_000) -> dict[str, float]:
    """Microseconds per ``encode_record`` (best of 5 rounds): the per-record event-loop cost."""
    out: dict[str, float] = {}
    for name, rec in (("mid_sample", _mid(1)), ("fill", _fill_record(1))):
        best = math.inf
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(n):
                encode_record(rec)
            best = min(best, (time.perf_counter() - t0) / n)
        out[name] = round(best * 1e6, 2)
    return out


class _NullSink:
    """Stands in for the writer in the control run: the producer's loop, nothing journaled."""

    written = batches = dropped = max_overflow = 0

    def append(self, record: Record) -> None:
        pass

    async def write_durable(self, records: list[Record]) -> None:
        await trio.lowlevel.checkpoint()

    async def flush(self) -> None:
        await trio.lowlevel.checkpoint()


async def stall(seconds: float, rate: int, control: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        j = Journal.open(Path(d))
        j.next_epoch()
        writer: JournalWriter | _NullSink = _NullSink() if control else JournalWriter(j)
        lateness: list[float] = []
        durable_ms: list[float] = []
        async with trio.open_nursery() as nursery:
            if isinstance(writer, JournalWriter):
                await nursery.start(writer.run)

            async def probe() -> None:
                while True:
                    t = time.perf_counter()
                    await trio.sleep(0.001)
                    lateness.append(time.perf_counter() - t - 0.001)

            async def producer() -> None:
                start, sent, trade_id = time.perf_counter(), 0, 0
                while (now := time.perf_counter()) - start < seconds:
                    due = int((now - start) * rate)
                    for i in range(sent, due):
                        writer.append(_mid(i))
                    sent = max(sent, due)
                    if now - start >= trade_id * 0.1:
                        trade_id += 1
                        t = time.perf_counter()
                        await writer.write_durable([_fill_record(trade_id)])
                        durable_ms.append((time.perf_counter() - t) * 1000)
                    await trio.sleep(0.001)
                await writer.flush()
                nursery.cancel_scope.cancel()

            nursery.start_soon(probe)
            nursery.start_soon(producer)
        j.close()
    lat_ms = sorted(x * 1000 for x in lateness)
    return {
        "seconds": seconds,
        "target_records_per_s": rate,
        "records_written": writer.written,
        "batches": writer.batches,
        "dropped": writer.dropped,
        "max_overflow": writer.max_overflow,
        "probe_wakeups": len(lat_ms),
        "stall_worst_ms": round(lat_ms[-1], 3),
        "stall_p99_ms": round(lat_ms[int(len(lat_ms) * 0.99)], 3),
        "stall_median_ms": round(statistics.median(lat_ms), 3),
        "durable_commit_median_ms": round(statistics.median(durable_ms), 3),
        "durable_commit_worst_ms": round(max(durable_ms), 3),
        "target_worst_stall_ms": 5.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--control", action="store_true", help="also run stall with no journaling")
    ap.add_argument(
        "--switch-ms",
        type=float,
        default=None,
        help="sys.setswitchinterval in ms (default 5): how long the commit thread may hold the GIL",
    )
    args = ap.parse_args()
    if args.switch_ms is not None:
        sys.setswitchinterval(args.switch_ms / 1000)
    out = {
        "benchmark": "journal",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "switch_interval_ms": sys.getswitchinterval() * 1000,
        "load_avg_1m": os.getloadavg()[0],
        "sustained": {s: sustained(s, args.records, 1000) for s in ("FULL", "NORMAL")},
        "encode_us": encode_cost(),
        "stall": trio.run(stall, args.seconds, args.rate),
    }
    if args.control:
        out["stall_control"] = trio.run(stall, args.seconds, args.rate, True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
