"""Backtest throughput and memory (issue 8): prints one JSON document, asserts nothing.

- memory: replays the 8-minute BTCUSDT pair (btcusdt_20240718.gz + btcusdt_20240719.gz) and
  reports the process's peak RSS (ru_maxrss) right after it (goal: < 300 MB);
- throughput: replays btcusdt_20240808.gz with a GLFT grid strategy (3 levels a side) that
  requotes every 100 ms, and reports events/s, an event being one depth level update or one
  trade (the way hftbacktest counts rows), plus fills and P&L;
- hftbacktest (when installed; a benchmark-only dependency, never a project dependency): the
  same recording converted with hftbacktest's own converter and replayed by hftbacktest with
  an equivalent GLFT grid in numba (``hftbacktest_glft.py``), timed apart from the JIT
  compile; the document gives both events/s, the ratio (ours / hftbacktest), both fills and
  P&L and notes on why they differ. Without hftbacktest: ``"hftbacktest": "not installed"``.

Times: wall (perf_counter) and CPU (process_time) seconds are both reported; on a shared
machine the CPU figure is the steadier one, and the ratios are given for both.

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

from mmtrio.backtest.runner import BacktestSettings, run_backtest
from mmtrio.config import load_config
from mmtrio.config.strategy import apply_overrides, build_strategy_config
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.reporting.pnl import compute_report
from mmtrio.venues.binance.recording import RecordingSource, scan_recording

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "binance-usdm"
GRID = [
    "quoting.model=glft",
    "quoting.levels=3",
    "quoting.requote_interval_ms=100",
    "risk.max_notional=5000",
]


def _config(files: list[Path]) -> StrategyConfig:
    """The benchmark grid on the instrument the recording states (as `mmtrio backtest`)."""
    cfg = apply_overrides(load_config(ROOT / "config.toml"), GRID)
    return build_strategy_config(cfg, scan_recording(files).instrument)


def _ours(files: list[Path], profile: bool = False) -> dict[str, Any]:
    scfg = _config(files)
    source = RecordingSource(tuple(files), scfg.instrument)
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_backtest(source, scfg, BacktestSettings())
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False), file=sys.stderr)
    rep = compute_report(result.report_input)
    inst = scfg.instrument
    fills = result.report_input.fills
    value = sum(inst.tick_size * f.price * inst.lot_size * f.qty for f in fills)
    return {
        "files": [f.name for f in files],
        "seconds": round(dt, 3),
        "cpu_seconds": round(cpu, 3),
        "events": result.events,
        "events_per_s": round(result.events / dt),
        "events_per_cpu_s": round(result.events / cpu),
        "messages": result.market_messages,
        "strategy_steps": result.strategy_steps,
        "fills": rep.fills,
        "maker_fills": sum(1 for f in fills if f.is_maker),
        "traded_qty": str(inst.lots_to_qty(sum(f.qty for f in fills))),
        "traded_value": str(round(value, 2)),
        "position_lots": result.venue_position_lots,
        "equity": str(rep.pnl["equity"]),
        "fees_paid": str(rep.pnl["fees_paid"]),
        "commands": dict(result.commands),
        "rejects": {str(k): v for k, v in result.rejects.items()},
        "book_gaps": result.book_gaps,
    }


def _glft_params(scfg: StrategyConfig, bt: BacktestSettings) -> Any:
    """hftbacktest's strategy parameters, read from the very config our run used."""
    from hftbacktest_glft import GlftParams
    from mmtrio.core.strategy import INTENSITY_MAX_DEPTH_TICKS, INTENSITY_REFRESH_MS

    q, lim, inst = scfg.quote, scfg.limits, scfg.instrument
    return GlftParams(
        gamma=q.gamma,
        base_qty=inst.lots_to_float(q.base_size_lots),
        max_position=inst.lots_to_float(lim.max_position_lots),
        hard_fraction=lim.hard_fraction,
        levels=q.levels,
        spacing_ticks=q.level_spacing_ticks,
        min_half_spread_ticks=q.min_half_spread_ticks,
        max_half_spread_ticks=q.max_half_spread_ticks,
        safety_ticks=scfg.post_only_base_ticks,
        requote_ms=scfg.min_requote_interval_ms,
        vol_half_life_ms=float(scfg.vol_half_life_ms),
        vol_min_returns=scfg.vol_min_returns,
        sigma_fallback_ticks=scfg.sigma_fallback_ticks,
        intensity_window_ms=scfg.intensity_window_ms,
        intensity_min_trades=scfg.intensity_min_trades,
        intensity_max_depth_ticks=int(INTENSITY_MAX_DEPTH_TICKS),
        intensity_refresh_ms=INTENSITY_REFRESH_MS,
        fallback_a=scfg.fallback_a,
        fallback_k=scfg.fallback_k,
        maker_fee=float(bt.fees.maker_rate),
        taker_fee=float(bt.fees.taker_rate),
        order_latency_ms=bt.order_latency_ms,
        tick_size=float(inst.tick_size),
        lot_size=float(inst.lot_size),
    )


def _bps(pnl: float, value: float | str) -> float:
    v = float(value)
    return round(pnl / v * 10_000, 3) if v else float("nan")


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else float("nan")


def _compare(ours: dict[str, Any], hbt: dict[str, Any]) -> dict[str, Any]:
    """Ratios (ours / hftbacktest) and the notes explaining fills and P&L differences."""
    end_to_end = hbt["rows"] / (hbt["convert_seconds"] + hbt["seconds"])
    return {
        "events_per_s_ours_over_hftbacktest": _ratio(ours["events_per_s"], hbt["events_per_s"]),
        "events_per_cpu_s_ours_over_hftbacktest": _ratio(
            ours["events_per_cpu_s"], hbt["events_per_cpu_s"]
        ),
        "goal_ratio": 0.25,
        "goal_met": ours["events_per_cpu_s"] >= 0.25 * hbt["events_per_cpu_s"],
        # Our figure includes reading and parsing the gzip JSON recording on every run;
        # hftbacktest's excludes its one-off conversion. With the conversion counted:
        "hftbacktest_events_per_s_including_conversion": round(end_to_end),
        "events_per_s_ours_over_hftbacktest_including_conversion": _ratio(
            ours["events_per_s"], end_to_end
        ),
        "fills_ours_over_hftbacktest": _ratio(ours["fills"], hbt["fills"]),
        "traded_value_ours_over_hftbacktest": _ratio(
            float(ours["traded_value"]), hbt["traded_value"]
        ),
        # P&L before fees per traded value: the edge each strategy earned (or gave up).
        "gross_pnl_bps_of_traded_value": {
            "mmtrio": _bps(float(ours["equity"]) + float(ours["fees_paid"]), ours["traded_value"]),
            "hftbacktest": _bps(hbt["equity"] + hbt["fees_paid"], hbt["traded_value"]),
        },
        "notes": NOTES,
    }


NOTES = [
    "Events: ours = depth levels of the diffs applied after sync + trades (snapshot excluded); "
    "hftbacktest = rows of its converted array, which also holds the 2,002 snapshot/clear rows,"
    " the pre-snapshot diffs and a second copy of every row whose exchange and local orders "
    "disagree (its EXCH/LOCAL split), hence more rows than our events on the same file.",
    "Work per event differs: our strategy is stepped on every market message and order "
    "answer (about 37.5k steps: book, estimators, risk, quote, reconcile, all in "
    "Python); hftbacktest's strategy runs once per 100 ms elapse (about 3.4k steps) while its "
    "Rust engine consumes the rows in between; our time also includes gzip+JSON parsing and "
    "the Binance codec and depth sequencer the live connector runs (the recording reader), "
    "its time excludes the conversion (reported apart).",
    "Fills: both use an expected-value probabilistic queue (ours PROBABILISTIC, hftbacktest "
    "PowerProbQueueModel(1): the same front/(front+back) share of unexplained decreases), "
    "but hftbacktest runs with no_partial_fill_exchange (its partial_fill_exchange stops "
    "with error 14 in 2.4.4): an order fills only once the trades at its price exceed the "
    "queue ahead by its full size, whereas ours fills the part a trade reaches; and ours "
    "fills every order a trade prints through.",
    "Requoting: ours amends orders in place (amend, 1-tick reprice tolerance, per-slot 100 ms "
    "minimum) and re-plans on every book change, so its quotes follow the touch within ms; "
    "the hftbacktest grid re-plans every 100 ms and replaces orders by price (cancel + new "
    "post-only, no tolerance). Amends lose queue priority in our engine; replaced orders "
    "join the back of the queue in hftbacktest, so both pay for moving.",
    "Model inputs: same GLFT formula, gamma, clamps, levels, sizes, limits and fallbacks, but "
    "our EWMA volatility and trade-depth mids are updated on every depth diff, hftbacktest's "
    "every 100 ms (mid of the previous step), so sigma, A, k and the spread differ in detail.",
    "Time: ours matches at the depth messages' event time E and delivers them at the "
    "recorded arrival time (clock offset removed); hftbacktest's converter stamps exchange "
    "time with the transaction time T (a few ms before E) and shifts local time by the "
    "largest negative feed latency. Order latency is 5 ms each way in both.",
    "Fees: both 2 bps maker / 5 bps taker on traded value (maker_fills says how many of ours "
    "were maker; the hftbacktest grid only posts GTX, so all of its fills are maker). "
    "Equity: ours is the ledger's mark-to-mid equity after fees; hftbacktest's is balance + "
    "position x last mid - fees. Positive fees = paid. gross_pnl_bps_of_traded_value "
    "(P&L before fees / traded value) separates the edge from the volume: when the two are "
    "close, the P&L gap comes from how much each traded (fills), not from better prices.",
]


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
    target = DATA / "btcusdt_20240808.gz"
    doc["mmtrio"] = _ours([target], args.profile)
    # Measured before hftbacktest (numba, its data) is imported, so it is ours alone.
    doc["mmtrio"]["peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    import importlib.util

    if importlib.util.find_spec("hftbacktest") is None or importlib.util.find_spec("numba") is None:
        doc["hftbacktest"] = "not installed"
    else:
        from hftbacktest_glft import run_hftbacktest

        hbt = run_hftbacktest(target, _glft_params(_config([target]), BacktestSettings()))
        doc["hftbacktest"] = hbt
        doc["comparison"] = _compare(doc["mmtrio"], hbt)
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
