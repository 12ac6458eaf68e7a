"""Binance's depth continuity (venues/binance/sequencer.py) and the recording reader.

The rule lives in one place now; these are the cases the core's book used to check, plus the
real-data replay (every bookTicker with a diff's ``u`` matches the rebuilt book) and the
promise that a recording yields exactly the events the live codec yields for the same bytes.
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import orjson
import pytest

from mmtrio.core.book import BookOutcome, OrderBook
from mmtrio.core.events import BookDelta, BookInvalid, BookSnapshot, BookTicker, Level
from mmtrio.errors import DataFileError, ProtocolError
from mmtrio.venues.binance.codec import BinanceDecoder
from mmtrio.venues.binance.codec_market import DepthSnapshot, DepthUpdate
from mmtrio.venues.binance.recording import RecordingReader, scan_recording
from mmtrio.venues.binance.sequencer import DepthSequencer

SYM = "BTCUSDT"
DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm"


def snap(
    uid: int, bids: Sequence[Level] = ((1000, 5),), asks: Sequence[Level] = ((1002, 4),)
) -> DepthSnapshot:
    return DepthSnapshot(SYM, uid, tuple(bids), tuple(asks), 0)


def diff(first: int, last: int, prev: int, bids: Sequence[Level] = ()) -> DepthUpdate:
    return DepthUpdate(SYM, first, last, prev, tuple(bids), (), 0)


def test_buffers_then_replays_from_the_bridging_diff() -> None:
    seq = DepthSequencer()
    assert seq.on_diff(diff(80, 90, 79)) == ([], False)
    assert seq.on_diff(diff(91, 103, 90, [(1000, 8)])) == ([], False)
    assert seq.on_diff(diff(104, 110, 103)) == ([], False)
    out, gap = seq.on_snapshot(snap(100))
    assert not gap
    assert isinstance(out[0], BookSnapshot) and out[0].seq == 100
    # the stale diff (u < lastUpdateId) is dropped; the bridge and its follower pass
    diffs = cast("list[BookDelta]", out[1:])  # a snapshot among them fails on .first_seq
    assert [(d.first_seq, d.seq, d.prev_seq) for d in diffs] == [(91, 103, 90), (104, 110, 103)]
    assert seq.synced and seq.last_id == 110
    fwd, gap = seq.on_diff(diff(111, 112, 110))
    assert not gap and [d.seq for d in fwd] == [112]


def test_first_diff_exactly_at_the_snapshot_id_or_chained_to_it() -> None:
    seq = DepthSequencer()
    seq.on_snapshot(snap(100))
    assert seq.on_diff(diff(100, 100, 99))[0][0].seq == 100  # U <= 100 <= u
    seq = DepthSequencer()
    seq.on_snapshot(snap(100))
    # a snapshot on a diff boundary: the next diff (pu = 100) starts at 101
    assert seq.on_diff(diff(101, 105, 100))[0][0].seq == 105


def test_stale_diffs_after_a_snapshot_are_dropped() -> None:
    seq = DepthSequencer()
    seq.on_snapshot(snap(100))
    assert seq.on_diff(diff(90, 99, 89)) == ([], False)
    assert not seq.synced


def test_gap_after_the_snapshot_and_a_broken_chain_are_gaps() -> None:
    seq = DepthSequencer()
    seq.on_snapshot(snap(100))
    assert seq.on_diff(diff(102, 105, 101)) == ([], True)  # the stream is past the snapshot
    assert seq.gaps == 1 and not seq.synced
    seq.on_snapshot(snap(200))
    seq.on_diff(diff(195, 205, 194))
    assert seq.on_diff(diff(207, 210, 206)) == ([], True)  # pu does not continue u
    assert seq.gaps == 2
    # after a gap it buffers again until the next snapshot
    assert seq.on_diff(diff(211, 220, 210)) == ([], False)
    out, gap = seq.on_snapshot(snap(215))
    assert not gap and [type(e) for e in out] == [BookSnapshot, BookDelta]


def test_a_duplicate_diff_is_a_gap() -> None:
    seq = DepthSequencer()
    seq.on_snapshot(snap(100))
    seq.on_diff(diff(95, 105, 94))
    seq.on_diff(diff(106, 110, 105))
    assert seq.on_diff(diff(106, 110, 105)) == ([], True)


def test_a_snapshot_older_than_the_buffer_is_a_gap_and_the_buffer_is_bounded() -> None:
    seq = DepthSequencer(max_buffer=2)
    for i in range(5):
        seq.on_diff(diff(10 * i + 1, 10 * i + 10, 10 * i))
    # the bridge for a snapshot at 15 was pushed out of the bounded buffer: reported
    assert seq.on_snapshot(snap(15)) == ([], True)


def test_the_core_book_applies_what_the_sequencer_forwards() -> None:
    seq = DepthSequencer()
    book = OrderBook(SYM)
    seq.on_diff(diff(95, 105, 94, [(1001, 2)]))
    events, _ = seq.on_snapshot(snap(100, [(1000, 5)], [(1003, 4)]))
    for ev in events:
        outcome = book.apply_snapshot(ev) if isinstance(ev, BookSnapshot) else book.apply_delta(ev)
        assert outcome is BookOutcome.APPLIED
    assert book.best_bid() == (1001, 2) and book.seq == 105


# --- real data -----------------------------------------------------------------------------


def test_every_book_ticker_with_a_diff_id_matches_the_rebuilt_book() -> None:
    """Rebuild the book from the recording through the live codec and sequencer.

    A bookTicker's ``u`` equals the ``u`` of the diff after which the top of book is what the
    ticker shows; tickers with ids in between diffs describe intermediate states a 0 ms diff
    aggregates away, so only equal ids are comparable. The ticker is often recorded *before*
    its diff, so tickers are indexed by id first and checked when that diff was applied.
    """
    path = DATA / "btcusdt_20240808.gz"
    inst = scan_recording([path]).instrument
    events = list(itertools.islice(RecordingReader([path], inst), 20_000))
    tickers = {ev.seq: ev for _, ev in events if isinstance(ev, BookTicker)}
    book = OrderBook(inst.symbol)
    checked = applied = 0
    for _, ev in events:
        assert not isinstance(ev, BookInvalid)
        if isinstance(ev, BookSnapshot):
            assert book.apply_snapshot(ev) is BookOutcome.APPLIED
        elif isinstance(ev, BookDelta):
            assert book.apply_delta(ev) is BookOutcome.APPLIED
            applied += 1
            ticker = tickers.get(ev.seq)
            if ticker is not None:
                assert book.best_bid() == (ticker.bid_price, ticker.bid_qty)
                assert book.best_ask() == (ticker.ask_price, ticker.ask_qty)
                checked += 1
    assert applied > 1_000
    assert checked > 100  # 154 tickers share an id with a diff in this prefix


@pytest.mark.parametrize("name", ["btcusdt_20240808.gz", "btcusdt_20230404.dat.gz"])
def test_the_recording_reader_yields_what_the_live_codec_yields(name: str) -> None:
    """The same recorded lines through the live decoder + sequencer by hand, and through the
    reader: the same events, in the same order (one codec for live and recorded data)."""
    path = DATA / name
    inst = scan_recording([path]).instrument
    decoder = BinanceDecoder([inst])
    seq = DepthSequencer(max_buffer=100_000)
    by_hand: list[object] = []
    with gzip.open(path, "rb") as fh:
        for line in itertools.islice(fh, 5_000):
            obj = orjson.loads(line.split(b" ", 1)[1])
            if "lastUpdateId" in obj:
                out, gap = seq.on_snapshot(decoder.decode_snapshot(obj, inst.symbol))
                assert not gap
                by_hand.extend(out)
                continue
            for rec in decoder.decode_obj(obj):
                if isinstance(rec, DepthUpdate):
                    fwd, gap = seq.on_diff(rec)
                    assert not gap
                    by_hand.extend(fwd)
                else:
                    by_hand.append(rec)
    reader = [ev for _, ev in itertools.islice(RecordingReader([path], inst), len(by_hand))]
    assert reader == by_hand
    assert len(by_hand) > 4_000


def test_instrument_and_symbol_come_from_the_data() -> None:
    eth = scan_recording([DATA / "ethusdt_20240808.gz"])
    assert eth.symbol == "ETHUSDT"
    assert str(eth.instrument.tick_size) == "0.01" and str(eth.instrument.lot_size) == "0.001"
    btc = scan_recording([DATA / "btcusdt_20230404.dat.gz", DATA / "btcusdt_20230405.dat.gz"])
    assert btc.symbol == "BTCUSDT"
    assert str(btc.instrument.tick_size) == "0.10"  # prices print two decimals, step 0.10
    with pytest.raises(ProtocolError, match="does not match the recording"):
        scan_recording([DATA / "ethusdt_20240808.gz"], symbol="BTCUSDT")


def test_a_recording_mixing_symbols_is_refused_naming_the_line(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.gz"
    with gzip.open(DATA / "btcusdt_20240808.gz", "rb") as src, gzip.open(mixed, "wb") as dst:
        for line in itertools.islice(src, 50):
            dst.write(line)
        with gzip.open(DATA / "ethusdt_20240808.gz", "rb") as eth:
            dst.write(next(itertools.islice(eth, 5, 6)))
    with pytest.raises(ProtocolError, match=r"mixed\.gz:51: the recording mixes symbols"):
        scan_recording([mixed])


def test_a_corrupt_recording_is_named_with_its_offset(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gz"
    bad.write_bytes((DATA / "btcusdt_20240808.gz").read_bytes()[:200_000])  # cut mid-stream
    inst = scan_recording([DATA / "btcusdt_20240808.gz"]).instrument
    with pytest.raises(
        DataFileError, match=r"recording \S*bad\.gz is damaged \(after line \d+, byte \d+"
    ):
        list(RecordingReader([bad], inst))
