"""Fidelity of the compiled replay core (issue 19): one JSON document, asserts nothing.

Every shipped recording (data/binance-usdm: the 2023 pair with mark prices and funding, the
2024 pair, BTCUSDT and ETHUSDT 2024-08-08), whole, is converted to an event store and replayed
by the reference engine (``engine=python``) and the compiled core (``engine=compiled``) with
the same live strategy, under two configurations (the packaged defaults; the benchmark's GLFT
grid) and two venue settings (probabilistic queue; conservative queue with order-latency
jitter). For each run it prints whether fills, mid samples, funding, order counts, decisions,
commands, rejects and positions are equal, and the figures either way. The same comparison on
short slices is the unit test ``tests/unit/test_fidelity.py``.

Usage: .venv/bin/python benchmarks/fidelity.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from mmtrio.backtest.runner import BacktestResult, BacktestSettings, run_backtest
from mmtrio.config import load_config
from mmtrio.config.strategy import apply_overrides, build_strategy_config
from mmtrio.data.convert import convert
from mmtrio.data.source import StoreSource
from mmtrio.exchange.matching import QueueModel
from mmtrio.reporting.pnl import compute_report
from mmtrio.venues.binance.recording import RecordingSource, scan_recording

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "binance-usdm"
RECORDINGS = [
    ["btcusdt_20230404.dat.gz", "btcusdt_20230405.dat.gz"],
    ["btcusdt_20240718.gz", "btcusdt_20240719.gz"],
    ["btcusdt_20240808.gz"],
    ["ethusdt_20240808.gz"],
]
CONFIGS = {
    "defaults": [],
    "glft-grid": [
        "quoting.model=glft",
        "quoting.levels=3",
        "quoting.requote_interval_ms=100",
        "risk.max_notional=5000",
    ],
}
VENUES = {
    "probabilistic": {},
    "conservative-jitter": {
        "queue_model": QueueModel.CONSERVATIVE,
        "order_jitter_ms": 2.0,
        "seed": 7,
    },
}


def _differences(a: BacktestResult, b: BacktestResult) -> list[str]:
    """What differs between the reference and the compiled run (empty: equal to the lot)."""
    out = []
    ra, rb = a.report_input, b.report_input
    for name in ("fills", "mids", "funding", "orders", "start_ms", "end_ms"):
        if getattr(ra, name) != getattr(rb, name):
            out.append(name)
    for name in (
        "strategy_steps",
        "commands",
        "rejects",
        "events",
        "market_messages",
        "book_gaps",
        "venue_position_lots",
        "strategy_position_lots",
        "funding_payments",
    ):
        if getattr(a, name) != getattr(b, name):
            out.append(name)
    return out


def main() -> None:
    runs = []
    with tempfile.TemporaryDirectory(prefix="mmtrio-fidelity-") as tmp:
        for names in RECORDINGS:
            files = [DATA / n for n in names]
            inst = scan_recording(files).instrument
            src = RecordingSource(tuple(files), inst, book_ticker=True)
            store, _ = convert(files, Path(tmp), inst, src, "binance-collector")
            for cname, overrides in CONFIGS.items():
                cfg = apply_overrides(load_config(ROOT / "config.toml"), overrides)
                scfg = build_strategy_config(cfg, inst)
                for vname, venue in VENUES.items():
                    res = {}
                    secs = {}
                    for engine in ("python", "compiled"):
                        t0 = time.process_time()
                        settings = BacktestSettings(engine=engine, **venue)  # type: ignore[arg-type]
                        res[engine] = run_backtest(StoreSource(store), scfg, settings)
                        secs[engine] = round(time.process_time() - t0, 2)
                    ref, fast = res["python"], res["compiled"]
                    diff = _differences(ref, fast)
                    rep = compute_report(ref.report_input)
                    runs.append(
                        {
                            "recording": names,
                            "config": cname,
                            "venue": vname,
                            "equal": not diff,
                            "differences": diff,
                            "fills": [len(ref.report_input.fills), len(fast.report_input.fills)],
                            "decisions": [ref.strategy_steps, fast.strategy_steps],
                            "funding_payments": [ref.funding_payments, fast.funding_payments],
                            "book_gaps": [ref.book_gaps, fast.book_gaps],
                            "equity": str(rep.pnl["equity"]),
                            "equity_compiled": str(compute_report(fast.report_input).pnl["equity"]),
                            "cpu_seconds": secs,
                        }
                    )
    doc: dict[str, Any] = {
        "benchmark": "fidelity",
        "runs": len(runs),
        "all_equal": all(r["equal"] for r in runs),
        "results": runs,
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
