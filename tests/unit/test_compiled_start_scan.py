"""The compiled core finds the clock offset and the first snapshot without reading the whole
store: the same answer as a scan of every row, from only the rows it needs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mmtrio.backtest.compiled import engine
from mmtrio.backtest.compiled import slots as sl
from mmtrio.data.layout import K_DELTA, K_INVALID, K_SNAPSHOT, K_TICKER, K_TRADE
from mmtrio.errors import ProtocolError


def _whole_scan(m: np.ndarray[Any, Any], tickers: bool, need: int) -> tuple[int, int]:
    """The former scan over every row, kept as the reference."""
    kinds = (m[:, sl.W_HEAD] & 0xFF).astype(np.int64)
    src = np.arange(len(m)) if tickers else np.flatnonzero(kinds != K_TICKER)
    head = src[:need]
    head = head[kinds[head] != K_INVALID]
    offset = int((m[head, sl.W_LOCAL] // 1_000_000 - m[head, sl.W_TS]).min())
    return offset, int(src[kinds[src] == K_SNAPSHOT][0])


def _rows(rng: np.random.Generator, n: int, snap_at: int) -> np.ndarray[Any, Any]:
    m = np.zeros((n, sl.MSG_WORDS), np.int64)
    kinds = rng.choice([K_DELTA, K_TRADE, K_TICKER, K_INVALID], size=n, p=[0.4, 0.2, 0.3, 0.1])
    kinds[snap_at] = K_SNAPSHOT
    m[:, sl.W_HEAD] = kinds | (rng.integers(0, 50, size=n) << 32)
    m[:, sl.W_TS] = 1_700_000_000_000 + np.arange(n) * 10
    m[:, sl.W_LOCAL] = (m[:, sl.W_TS] + rng.integers(-1500, 200, size=n)) * 1_000_000
    return m


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tickers", [True, False])
def test_chunked_scan_equals_the_whole_scan(
    seed: int, tickers: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(200, 3000))
    m = _rows(rng, n, snap_at=int(rng.integers(0, n)))
    need = int(rng.integers(5, 400))
    monkeypatch.setattr(engine, "OFFSET_SCAN_EVENTS", need)
    monkeypatch.setattr(engine, "SCAN_ROWS", int(rng.integers(7, 128)))
    assert engine._offset_and_start(m, tickers) == _whole_scan(m, tickers, need)


def test_the_scan_stops_once_it_has_both(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    m = _rows(rng, 10_000, snap_at=50)
    monkeypatch.setattr(engine, "OFFSET_SCAN_EVENTS", 100)
    monkeypatch.setattr(engine, "SCAN_ROWS", 64)
    m[1_000:, sl.W_HEAD] = -1  # garbage past what the scan needs: never read
    m[1_000:, sl.W_TS] = -(10**15)
    assert engine._offset_and_start(m, True) == _whole_scan(m[:1_000], True, 100)


def test_no_snapshot_and_no_event_are_named() -> None:
    rng = np.random.default_rng(2)
    m = _rows(rng, 500, snap_at=0)
    m[0, sl.W_HEAD] = K_DELTA
    with pytest.raises(ProtocolError, match="no depth snapshot"):
        engine._offset_and_start(m, True)
    with pytest.raises(ProtocolError, match="no timed market event"):
        engine._offset_and_start(np.zeros((0, sl.MSG_WORDS), np.int64), True)
