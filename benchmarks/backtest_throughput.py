"""Backtest throughput and memory (issue 8): prints one JSON document, asserts nothing.

- memory: replays the 8-minute BTCUSDT pair (btcusdt_20240718.gz + btcusdt_20240719.gz) and
  reports the process's peak RSS (ru_maxrss) right after it (goal: < 300 MB);
- throughput: replays btcusdt_20240808.gz with a GLFT grid strategy (3 levels a side) that
  requotes every 100 ms, and reports events/s, an event being one depth level update or one
  trade (the way hftbacktest counts rows), plus fills and P&L;
- hftbacktest: the side-by-side run of hftbacktest's own backtest is NOT implemented yet; the
  document says so (hftbacktest is a benchmark-only dependency, never a project dependency).

Usage: .venv/bin/python benchmarks/backtest_throughput.py [--profile]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "binance-usdm"
GRID = [
    "quoting.model=glft",
    "quoting.levels=3",
    "quoting.requote_interval_ms=100",
    "risk.max_notional=5000",
]


def _ours(files: list[Path], profile: bool = False) -> dict[str, Any]:
    from mmtrio.backtest.runner import BacktestSettings, run_backtest
    from mmtrio.config import load_config
    from mmtrio.config.strategy import apply_overrides, build_strategy_config
    from mmtrio.reporting.pnl import compute_report

    cfg = apply_overrides(load_config(ROOT / "config.toml"), GRID)
    scfg = build_strategy_config(cfg)
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    t0 = time.perf_counter()
    result = run_backtest(files, scfg, BacktestSettings())
    dt = time.perf_counter() - t0
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False), file=sys.stderr)
    rep = compute_report(result.report_input)
    return {
        "files": [f.name for f in files],
        "seconds": round(dt, 3),
        "events": result.events,
        "events_per_s": round(result.events / dt),
        "messages": result.market_messages,
        "strategy_steps": result.strategy_steps,
        "fills": rep.fills,
        "equity": str(rep.pnl["equity"]),
        "fees_paid": str(rep.pnl["fees_paid"]),
        "commands": dict(result.commands),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", action="store_true", help="pyinstrument profile to stderr")
    args = ap.parse_args()
    doc: dict[str, Any] = {"benchmark": "backtest_throughput"}
    pair = [DATA / "btcusdt_20240718.gz", DATA / "btcusdt_20240719.gz"]
    doc["memory_pair"] = _ours(pair)
    doc["memory_pair"]["peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    doc["mmtrio"] = _ours([DATA / "btcusdt_20240808.gz"], args.profile)
    import importlib.util

    if importlib.util.find_spec("hftbacktest") is None:
        doc["hftbacktest"] = {"skipped": "hftbacktest is not installed (pip install hftbacktest)"}
    else:
        # Not done yet: the side-by-side run (converter + an equivalent GLFT grid in
        # hftbacktest's numba API) is still to be written; say so rather than print a guess.
        doc["hftbacktest"] = {"skipped": "installed, but the side-by-side run is not written yet"}
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
