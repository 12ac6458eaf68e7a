"""A 24-hour recording replayed from its store: peak RSS (issue 19's memory target, < 1 GB).

Asserts nothing; prints one JSON document. No 24-hour recording ships, so this benchmark
builds one from a shipped recording of real market data, tiled end to end until it spans
``--hours`` (default 24): tile ``k`` is the source with every time shifted by ``k`` spans
(the local receive time, and ``E``/``T``) and every id shifted by ``k`` id ranges (the depth
update ids ``U``/``u``/``pu``/``lastUpdateId``, a book ticker's ``u``, trade ids ``t``).
Each tile keeps its own REST snapshot, and its first diff does not continue the previous
tile's last, so the book loses continuity at every tile boundary and is resynced from the
tile's snapshot, as a live feed is after a reconnect: ``book_gaps`` counts them. The market's
density is the source's (BTCUSDT 2024-08-08: 94 k messages in 345 s, ~470 k depth levels and
trades), so the day holds ~23 M messages, far more than a calm day of BTCUSDT would.

Each step runs in its own child process, so each peak RSS is that step's alone:

1. ``build``: the tiled recording written as gzip text in the collector format;
2. ``convert``: ``mmtrio.data.convert`` into an event store (what ``mmtrio data convert``
   does);
3. ``replay``: the live strategy (the shipped ``config.toml``) on the compiled core over the
   store by memory map, as ``mmtrio backtest --data STORE`` runs it.

Usage: .venv/bin/python benchmarks/memory_24h.py [--hours 24] [--source NAME] [--work DIR]
(--work: where the recording and the store go, ~1 GB gzip + ~3.7 GB store for 24 h of the
default source; a temporary directory under it is removed at the end unless --keep.)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "binance-usdm"
# The fields a tile shifts, by what they are: times in ms, depth update ids, trade ids.
_FIELD = re.compile(rb'"(E|T|U|u|pu|lastUpdateId|t)":(\d+)')
_MS = {b"E": 0, b"T": 0}
_UPDATE_IDS = {b"U": 1, b"u": 1, b"pu": 1, b"lastUpdateId": 1}
_TRADE_IDS = {b"t": 2}
_KIND = {**_MS, **_UPDATE_IDS, **_TRADE_IDS}


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _templates(src: Path) -> tuple[list[tuple[int, bytes, tuple[tuple[int, int], ...]]], int]:
    """Every line as (local time, a format with a slot per shifted field, the fields), and
    the local time's unit in ns per ms (the 2024 files stamp ns, the 2023 files µs)."""
    rows = []
    with gzip.open(src, "rb") as f:
        for line in f:
            stamp, _, body = line.rstrip(b"\n").partition(b" ")
            fields: list[tuple[int, int]] = []

            def slot(m: re.Match[bytes], fields: list[tuple[int, int]] = fields) -> bytes:
                fields.append((_KIND[m.group(1)], int(m.group(2))))
                return b'"' + m.group(1) + b'":%d'

            fmt = _FIELD.sub(slot, body.replace(b"%", b"%%"))
            rows.append((int(stamp), fmt, tuple(fields)))
    per_ms = 1_000_000 if rows[0][0] > 10**17 else 1_000
    return rows, per_ms


def _build(src: Path, out: Path, hours: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    rows, per_ms = _templates(src)
    stamps = [r[0] for r in rows]
    span_ms = (max(stamps) - min(stamps)) // per_ms + 1_000  # a second between tiles
    ids = [v for _, _, fs in rows for k, v in fs if k == 1]
    trades = [v for _, _, fs in rows for k, v in fs if k == 2]
    id_range = max(ids) - min(ids) + 1
    trade_range = (max(trades) - min(trades) + 1) if trades else 1
    tiles = max(1, round(hours * 3_600_000 / span_ms))
    lines = 0
    with gzip.open(out, "wb", compresslevel=1) as f:
        for k in range(tiles):
            shift = (k * span_ms, k * id_range, k * trade_range)
            local = k * span_ms * per_ms
            f.writelines(
                b"%d " % (stamp + local)
                + fmt % tuple(v + shift[kind] for kind, v in fields)
                + b"\n"
                for stamp, fmt, fields in rows
            )
            lines += len(rows)
    return {
        "source": src.name,
        "tiles": tiles,
        "span_hours": round(tiles * span_ms / 3_600_000, 2),
        "messages": lines,
        "gzip_mb": round(out.stat().st_size / 1e6, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": _peak_mb(),
    }


def _convert(recording: Path, root: Path) -> dict[str, Any]:
    from mmtrio.data.convert import convert
    from mmtrio.venues.binance.recording import RecordingSource, scan_recording

    t0 = time.perf_counter()
    inst = scan_recording([recording]).instrument
    src = RecordingSource((recording,), inst, book_ticker=True)
    path, _ = convert([recording], root, inst, src, "binance-collector")
    size = sum(f.stat().st_size for f in path.iterdir())
    return {
        "store": str(path),
        "store_mb": round(size / 1e6, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": _peak_mb(),
    }


def _replay(store: Path, recording: Path) -> dict[str, Any]:
    from mmtrio.backtest.compiled.engine import warm_up
    from mmtrio.backtest.runner import BacktestSettings, run_backtest
    from mmtrio.config import load_config
    from mmtrio.config.strategy import build_strategy_config
    from mmtrio.data.source import StoreSource
    from mmtrio.venues.binance.recording import scan_recording

    # The shipped config.toml on the recording's instrument, as `mmtrio backtest` runs it.
    scfg = build_strategy_config(
        load_config(ROOT / "config.toml"), scan_recording([recording]).instrument
    )
    compile_s = warm_up()
    before = _peak_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_backtest(StoreSource(store), scfg, BacktestSettings(engine="compiled"))
    return {
        "engine": result.engine,
        "events": result.events,
        "messages": result.market_messages,
        "book_gaps": result.book_gaps,
        "strategy_steps": result.strategy_steps,
        "fills": len(result.report_input.fills),
        "commands": dict(result.commands),
        "halts": [a.message for a in result.alerts if a.message.startswith("halted")][:3],
        "mid_samples": len(result.report_input.mids),
        "seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(time.process_time() - c0, 1),
        "compile_seconds": round(compile_s, 2),
        "rss_before_run_mb": before,
        "peak_rss_mb": _peak_mb(),
    }


def _child(step: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    doc: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--source", default="btcusdt_20240808.gz", help="a shipped recording")
    ap.add_argument("--work", type=Path, default=None, help="where the big files go")
    ap.add_argument("--keep", action="store_true", help="keep the recording and the store")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        step, *rest = args.child
        if step == "build":
            doc = _build(DATA / rest[0], Path(rest[1]), float(rest[2]))
        elif step == "convert":
            doc = _convert(Path(rest[0]), Path(rest[1]))
        else:
            doc = _replay(Path(rest[0]), Path(rest[1]))
        print(json.dumps(doc))
        return
    if not (DATA / args.source).is_file():
        sys.exit(f"no shipped recording {args.source!r} in {DATA}")
    work = Path(tempfile.mkdtemp(prefix="mmtrio-24h-", dir=args.work))
    try:
        recording = work / f"tiled_{args.hours:g}h_{args.source}"
        doc = {
            "benchmark": "memory_24h",
            "target": "a 24 h recording replays in < 1 GB RSS (by memory map)",
            "load_average_start": list(os.getloadavg()),
        }
        doc["build"] = _child("build", args.source, str(recording), str(args.hours))
        doc["convert"] = _child("convert", str(recording), str(work / "stores"))
        doc["replay"] = _child("replay", doc["convert"]["store"], str(recording))
        doc["target_met"] = doc["replay"]["peak_rss_mb"] < 1024
        doc["load_average_end"] = list(os.getloadavg())
        print(json.dumps(doc, indent=2))
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
