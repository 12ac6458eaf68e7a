"""The sweep mode: the GLFT quoting model itself compiled, for parameter grids.

Calibration runs hundreds of parameter sets over many recordings; the exact engine calls the
live strategy in Python at every decision point, which is what makes it exact and what makes
it slow. This mode compiles a *model* of that strategy (the way hftbacktest's accelerated mode
precomputes fill conditions) and runs it entirely in numba on the compiled core's matching
kernels (:mod:`mmtrio.backtest.compiled.matching`), so a parameter set costs about as much as
replaying the data.

The model keeps the strategy's formulas (GLFT closed form, inventory skew, half-spread clamp,
microprice reference, post-only safety, levels and spacing, the position limit counted at the
worst case with the hard band quoting only the reducing side, EWMA volatility of the mid by
time with its fallback, the A·e^(−kδ) tail-count fit over the intensity window refreshed every
second with its fallback and its r² gate) and simplifies what makes the exact engine exact:

- it decides every ``quoting.requote_interval_ms`` on the venue's book, without feed latency
  and without the burst cadence; requests reach the venue ``order_latency_ms`` later (no
  jitter), our fills are known at once;
- a level is amended (or cancelled and placed again) when its price moved by more than the
  reprice tolerance; sizes are the base size times the level multiplier, reduced on the side
  that grows inventory;
- no risk states besides the position limit (no drawdown halt, no stale-book or feed-latency
  guard, no order-rate limit), no funding, no post-only widening after rejects;
- no defence (:mod:`mmtrio.core.defence`: neither the markout widening nor the volatility
  regime): ``mmtrio calibrate`` ranks its grid here and measures the chosen point, with the
  defence, on the exact engine.

Its error against the exact engine is measured, per parameter set, on held-out recordings by
``benchmarks/backtest_throughput.py`` (and shown by ``--sweep-mode fast`` users there): use it
to rank and prune a grid, then confirm the short list with the exact engine.

This module runs one parameter set and turns what the model counted into a result shaped like
the exact engine's. The model itself is :mod:`mmtrio.backtest.fastsweep_kernel` (the replay)
with :mod:`mmtrio.backtest.fastsweep_formulas` (the GLFT and intensity formulas); its
parameters, and the axes a fast sweep may vary, are :mod:`mmtrio.backtest.fastsweep_params`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmtrio.backtest.compiled import slots as sl
from mmtrio.backtest.fastsweep_kernel import (
    FILL_CAP,
    T_AMEND,
    T_CANCEL,
    T_DECISIONS,
    T_EVENTS,
    T_FILLS,
    T_MIDS,
    T_PLACE,
    run_fast_kernel,
)
from mmtrio.backtest.fastsweep_params import FastParams
from mmtrio.backtest.feed import Source
from mmtrio.backtest.settings import BacktestResult, BacktestSettings
from mmtrio.core.events import Fill, Side
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.reporting.pnl import MidSample, OrderCounts, ReportInput


def run_fast(source: Source, config: StrategyConfig, settings: BacktestSettings) -> BacktestResult:
    """One parameter set on the sweep model; a result shaped like the exact engine's."""
    from mmtrio.data.source import StoreSource

    if not isinstance(source, StoreSource):
        import tempfile

        from mmtrio.data.convert import write_store

        with tempfile.TemporaryDirectory(prefix="mmtrio-fast-") as tmp:
            path = write_store(source(), Path(tmp) / "s", config.instrument, {"kind": "sweep"})
            return run_fast_store(path, config, settings)
    return run_fast_store(Path(source.path), config, settings)


def _warm_fast(prm: FastParams) -> float:
    """Compile (or load) the sweep kernel on no data; seconds taken (reported apart)."""
    import time

    from mmtrio.backtest.compiled.engine import read_only

    t0 = time.perf_counter()
    s = np.zeros(sl.S_SIZE, np.int64)
    z = read_only(np.zeros((0, sl.MSG_WORDS), np.int64))
    run_fast_kernel(
        z,
        read_only(np.zeros((0, 2), np.int64)),
        s,
        np.zeros((8, 4), np.int64),
        np.zeros((4, sl.O_FIELDS), np.int64),
        np.zeros((4, sl.U_FIELDS), np.int64),
        np.zeros((2, 4), np.int64),
        prm.vector,
        np.zeros((1, 6), np.int64),
        np.zeros((1, 3), np.int64),
        np.zeros(8, np.int64),
    )
    return time.perf_counter() - t0


def run_fast_store(
    path: Path, config: StrategyConfig, settings: BacktestSettings
) -> BacktestResult:
    from collections import Counter

    from mmtrio.backtest.compiled.engine import _offset_and_start, _window, read_only, warm_up
    from mmtrio.data.store import open_store

    prm = FastParams.of(config, settings)
    compile_s = warm_up() + _warm_fast(prm)
    store = open_store(path)
    m = read_only(store.messages.view(np.int64).reshape(-1, sl.MSG_WORDS))
    lv = read_only(store.levels.view(np.int64).reshape(-1, 2))
    _, start = _offset_and_start(m, True)
    pbase, width = _window(store, m, lv, start)
    s = np.zeros(sl.S_SIZE, np.int64)
    s[sl.S_NROWS], s[sl.S_EP], s[sl.S_PBASE] = len(m), start, pbase
    s[sl.S_EBB] = s[sl.S_EBA] = sl.NONE
    s[sl.S_NEXT_OID] = 1
    s[sl.S_QMODEL] = 1 if settings.queue_model.value == "probabilistic" else 0
    bk = np.zeros((8, width), np.int64)
    o = np.zeros((sl.ORDER_CAP, sl.O_FIELDS), np.int64)
    u = np.zeros((sl.U_CAP, sl.U_FIELDS), np.int64)
    buf = np.zeros((2, sl.ORDER_CAP), np.int64)
    fills = np.zeros((FILL_CAP, 6), np.int64)
    mids = np.zeros((max(1024, len(m) // 4), 3), np.int64)
    stats = np.zeros(8, np.int64)
    run_fast_kernel(m, lv, s, bk, o, u, buf, prm.vector, fills, mids, stats)
    inst = config.instrument
    levels = config.quote.levels
    fee_rate = (settings.fees.maker_rate, settings.fees.taker_rate)
    out_fills = []
    for k, (ts, slot, px, qty, maker, oid) in enumerate(
        fills[: min(int(stats[T_FILLS]), FILL_CAP)].tolist()
    ):
        side = Side.BUY if slot < levels else Side.SELL
        out_fills.append(
            Fill(
                symbol=inst.symbol,
                trade_id=k + 1,
                client_id=f"fast-{oid}",
                order_id=oid,
                side=side,
                price=px,
                qty=qty,
                fee=inst.notional(px, qty) * (fee_rate[0] if maker == 1 else fee_rate[1]),
                fee_asset=inst.quote_asset,
                is_maker=maker == 1,
                ts=ts,
            )
        )
    mid_rows = [MidSample(t, b, a) for t, b, a in mids[: int(stats[T_MIDS])].tolist()]
    first = int(s[sl.S_FIRST])
    last = int(s[sl.S_E_LAST])
    commands = Counter(
        {
            "PlaceOrder": int(stats[T_PLACE]),
            "AmendOrder": int(stats[T_AMEND]),
            "CancelOrder": int(stats[T_CANCEL]),
        }
    )
    return BacktestResult(
        report_input=ReportInput(
            instrument=inst,
            fills=tuple(out_fills),
            mids=tuple(mid_rows),
            funding=(),
            orders=OrderCounts(
                place=commands["PlaceOrder"],
                amend=commands["AmendOrder"],
                cancel=commands["CancelOrder"],
            ),
            start_ms=first,
            end_ms=last,
        ),
        market_messages=len(m),
        events=int(stats[T_EVENTS]),
        strategy_steps=int(stats[T_DECISIONS]),
        commands=commands,
        notices=Counter(),
        alerts=[],
        strategy_position_lots=int(s[sl.S_POS]),
        venue_position_lots=int(s[sl.S_POS]),
        funding_payments=0,
        first_ms=first,
        last_ms=last,
        engine="fast",
        compile_seconds=compile_s,
    )


__all__ = ["run_fast", "run_fast_store"]
