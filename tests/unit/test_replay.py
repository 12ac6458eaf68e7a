"""Replay driver: sync, the recording's own update-id chain across a file pair and a wrap,
book vs tickers.

The driver yields neutral events (``MarketMessage(ts, event)``); what the sim puts on the wire
(``E``, ``U``/``u``/``pu``) is checked by the sim's tests (test_sim_book_sync,
test_sim_book_consistency).
"""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest

from mmtrio.core.events import BookDelta, BookTicker, Trade
from mmtrio.core.instruments import BTCUSDT
from mmtrio.errors import ProtocolError
from mmtrio.sim.market import apply_levels
from mmtrio.sim.paper import replay_driver

DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm"
PAIR_2023 = [DATA / "btcusdt_20230404.dat.gz", DATA / "btcusdt_20230405.dat.gz"]
PAIR_2024 = [DATA / "btcusdt_20240718.gz", DATA / "btcusdt_20240719.gz"]


def test_pair_chain_book_and_tickers_in_first_pass() -> None:
    drv = replay_driver(PAIR_2024, BTCUSDT, loop=False)
    snap = drv.initial_snapshot()
    bids, asks = dict(snap.bids), dict(snap.asks)
    last_u = snap.seq
    last_ts = snap.ts
    matched = 0
    depth_count = 0
    multi_update = 0
    for msg in drv:
        assert msg.ts >= last_ts and msg.event.ts == msg.ts
        last_ts = msg.ts
        ev = msg.event
        if isinstance(ev, BookDelta):
            assert ev.prev_seq == last_u, "U/u/pu chain broken"
            assert ev.first_seq <= ev.seq
            multi_update += ev.first_seq < ev.seq
            last_u = ev.seq
            apply_levels(bids, ev.bids)
            apply_levels(asks, ev.asks)
            depth_count += 1
        elif isinstance(ev, BookTicker):
            assert ev.seq >= snap.seq, "a ticker older than the starting book was replayed"
            if ev.seq == last_u:
                assert (ev.bid_price, ev.ask_price) == (max(bids), min(asks))
                matched += 1
    # The second file's diffs were replayed too (the pair is one recording).
    assert depth_count > 8_000
    assert matched > 50
    # The recording's real update ids are kept (a diff spans several updates: U < u), not
    # renumbered one per diff.
    assert multi_update > depth_count // 2


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
    once = sum(1 for _ in replay_driver(short_pair, BTCUSDT, loop=False))
    drv = replay_driver(short_pair, BTCUSDT, loop=True)
    snap = drv.initial_snapshot()
    start_book = (dict(snap.bids), dict(snap.asks))
    bids, asks = dict(snap.bids), dict(snap.asks)
    last_u, last_ts, last_tid, last_ticker = snap.seq, snap.ts, 0, 0
    wraps = 0
    for i, msg in enumerate(itertools.islice(iter(drv), 3 * once + 10)):
        assert msg.ts >= last_ts, "time went backwards"
        assert msg.event.ts == msg.ts
        last_ts = msg.ts
        ev = msg.event
        if isinstance(ev, BookDelta):
            assert ev.prev_seq == last_u, "U/u/pu chain broken"
            assert ev.seq > last_u and ev.first_seq <= ev.seq
            last_u = ev.seq
            apply_levels(bids, ev.bids)
            apply_levels(asks, ev.asks)
            if i % (once + 1) == once:  # the synthetic wrap diff
                wraps += 1
                assert (bids, asks) == start_book, "wrap diff must restore the starting book"
        elif isinstance(ev, Trade):
            assert ev.trade_id > last_tid
            last_tid = ev.trade_id
        elif isinstance(ev, BookTicker):
            # Ticker ids move with the depth ids across a wrap: they keep increasing.
            assert ev.seq >= last_ticker
            last_ticker = ev.seq
    assert wraps == 3


def test_non_continuous_files_are_rejected() -> None:
    second = DATA / "btcusdt_20240808.gz"
    drv = replay_driver([DATA / "btcusdt_20240718.gz", second], BTCUSDT, loop=False)
    with pytest.raises(ProtocolError, match=r"depth gap[\s\S]*one continuous book") as exc:
        for _ in drv:
            pass
    assert str(second) in str(exc.value)  # names the file (and line) where the chain broke


def test_file_without_snapshot_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="snapshot"):
        replay_driver([DATA / "btcusdt_20240719.gz"], BTCUSDT)


def test_wrong_instrument_is_rejected() -> None:
    with pytest.raises(ProtocolError, match=r"ETHUSDT|tick size"):
        drv = replay_driver([DATA / "ethusdt_20240808.gz"], BTCUSDT, loop=False)
        next(iter(drv))
