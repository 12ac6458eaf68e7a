"""The compiled core's view rows: what the strategy is handed is what the store holds.

A trade's fields travel in its view row (``V_TRADE_*``), copied by the kernel, so Python
builds the ``Trade`` without reading the store's row again; the fidelity tests compare whole
runs with the reference engine, this one names the field that went wrong.
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from mmtrio.backtest.decisions import StrategySide
from mmtrio.backtest.runner import BacktestSettings, run_backtest
from mmtrio.config import load_config
from mmtrio.config.strategy import apply_overrides, build_strategy_config
from mmtrio.core.events import BookSnapshot, Event, Trade
from mmtrio.data.convert import convert
from mmtrio.data.source import StoreSource, iter_events
from mmtrio.data.store import open_store
from mmtrio.venues.binance.recording import RecordingSource, scan_recording

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"


def _store(tmp_path: Path, lines: int) -> StoreSource:
    src = tmp_path / "slice.gz"
    with gzip.open(DATA / "btcusdt_20240808.gz", "rb") as fin, gzip.open(src, "wb") as fout:
        fout.writelines(itertools.islice(fin, lines))
    inst = scan_recording([src]).instrument
    path, _ = convert(
        [src], tmp_path / "stores", inst, RecordingSource((src,), inst), "binance-collector"
    )
    return StoreSource(path)


def test_every_trade_reaches_the_strategy_with_its_fields_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _store(tmp_path, 6_000)
    events = [ev for _, ev in iter_events(open_store(source.path))]
    first_snapshot = next(i for i, ev in enumerate(events) if isinstance(ev, BookSnapshot))
    expected = [ev for ev in events[first_snapshot:] if isinstance(ev, Trade)]
    assert {t.buyer_is_maker for t in expected} == {True, False}, "both aggressor sides"

    seen: list[Trade] = []
    for name in ("apply", "apply_timed"):
        original = getattr(StrategySide, name)

        def spy(
            self: StrategySide, ev: Event, now: int, _orig: Callable[..., None] = original
        ) -> None:
            if isinstance(ev, Trade):
                seen.append(ev)
            _orig(self, ev, now)

        monkeypatch.setattr(StrategySide, name, spy)
    cfg = apply_overrides(load_config(ROOT / "config.toml"), ["estimators.warmup_ms=0"])
    scfg = build_strategy_config(cfg, source.instrument)
    run_backtest(source, scfg, BacktestSettings(engine="compiled"))
    assert len(expected) > 100
    assert seen == expected
