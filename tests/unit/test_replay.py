"""Replay driver: sync, unbroken U/u/pu chain across a file pair and a wrap, book vs tickers."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest

from mmtrio.core.events import BookTicker, DepthDiff, Trade
from mmtrio.core.instruments import BTCUSDT
from mmtrio.errors import ProtocolError
from mmtrio.sim.market import apply_levels
from mmtrio.sim.replay import ReplayDriver

DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm"
PAIR_2023 = [DATA / "btcusdt_20230404.dat.gz", DATA / "btcusdt_20230405.dat.gz"]
PAIR_2024 = [DATA / "btcusdt_20240718.gz", DATA / "btcusdt_20240719.gz"]


def test_pair_chain_book_and_tickers_in_first_pass() -> None:
    drv = ReplayDriver(PAIR_2024, BTCUSDT, loop=False)
    snap = drv.initial_snapshot()
    bids, asks = dict(snap.bids), dict(snap.asks)
    last_u = snap.last_update_id
    last_ts = snap.ts
    matched = 0
    depth_count = 0
    for msg in drv:
        assert msg.ts >= last_ts and msg.payload["E"] == msg.ts
        last_ts = msg.ts
        ev = msg.event
        if isinstance(ev, DepthDiff):
            assert ev.prev_last_id == last_u, "U/u/pu chain broken"
            assert msg.payload["pu"] == ev.prev_last_id and msg.payload["u"] == ev.last_id
            last_u = ev.last_id
            apply_levels(bids, ev.bids)
            apply_levels(asks, ev.asks)
            depth_count += 1
        elif isinstance(ev, BookTicker) and ev.update_id == last_u:
            assert (ev.bid_price, ev.ask_price) == (max(bids), min(asks))
            matched += 1
    # The second file's diffs were replayed too (the pair is one recording).
    assert depth_count > 8_000
    assert matched > 50


@pytest.fixture
def short_pair(tmp_path: Path) -> list[Path]:
    """The first 12,000 lines of the 2023 recording, split into a two-file pair."""
    with gzip.open(PAIR_2023[0], "rb") as fh:
        lines = list(itertools.islice(fh, 12_000))
    a, b = tmp_path / "a.dat.gz", tmp_path / "b.dat"
    with gzip.open(a, "wb") as out:
        out.writelines(lines[:6_000])
    b.write_bytes(b"".join(lines[6_000:]))
    return [a, b]


def test_wrap_keeps_chain_ids_and_time_increasing(short_pair: list[Path]) -> None:
    once = sum(1 for _ in ReplayDriver(short_pair, BTCUSDT, loop=False))
    drv = ReplayDriver(short_pair, BTCUSDT, loop=True)
    snap = drv.initial_snapshot()
    start_book = (dict(snap.bids), dict(snap.asks))
    bids, asks = dict(snap.bids), dict(snap.asks)
    last_u, last_ts, last_tid = snap.last_update_id, snap.ts, 0
    wraps = 0
    for i, msg in enumerate(itertools.islice(iter(drv), 3 * once + 10)):
        assert msg.ts >= last_ts, "time went backwards"
        assert msg.payload["E"] == msg.ts
        last_ts = msg.ts
        ev = msg.event
        if isinstance(ev, DepthDiff):
            assert ev.prev_last_id == last_u, "U/u/pu chain broken"
            assert ev.last_id > last_u and ev.first_id <= ev.last_id
            assert (msg.payload["U"], msg.payload["u"], msg.payload["pu"]) == (
                ev.first_id,
                ev.last_id,
                ev.prev_last_id,
            )
            last_u = ev.last_id
            apply_levels(bids, ev.bids)
            apply_levels(asks, ev.asks)
            if i % (once + 1) == once:  # the synthetic wrap diff
                wraps += 1
                assert (bids, asks) == start_book, "wrap diff must restore the starting book"
        elif isinstance(ev, Trade):
            assert ev.trade_id > last_tid and msg.payload["t"] == ev.trade_id
            last_tid = ev.trade_id
        elif isinstance(ev, BookTicker):
            assert msg.payload["u"] == ev.update_id
    assert wraps == 3


def test_non_continuous_files_are_rejected() -> None:
    drv = ReplayDriver(
        [DATA / "btcusdt_20240718.gz", DATA / "btcusdt_20240808.gz"], BTCUSDT, loop=False
    )
    with pytest.raises(ProtocolError, match="not one continuous recording"):
        for _ in drv:
            pass


def test_file_without_snapshot_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="snapshot"):
        ReplayDriver([DATA / "btcusdt_20240719.gz"], BTCUSDT)


def test_wrong_instrument_is_rejected() -> None:
    with pytest.raises(ProtocolError, match=r"ETHUSDT|tick size"):
        drv = ReplayDriver([DATA / "ethusdt_20240808.gz"], BTCUSDT, loop=False)
        next(iter(drv))
