"""Other venues' feeds in the collector format (``venues/binance/collector.CollectorEncoder``).

Each test encodes what a venue's sequencer hands the recorder and reads the lines back with the
project's own recording reader (the backtester's and the simulated venues'), through the
Binance depth sequencer: the book replays continuously (no gap) and in the base asset."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from mmtrio.core.events import BookDelta, BookInvalid, BookSnapshot, Event, MarkPrice, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ProtocolError
from mmtrio.venues.binance.codec_market import parse_mark_price
from mmtrio.venues.binance.collector import CollectorEncoder, encode_line, recording_symbol
from mmtrio.venues.binance.recording import RecordingReader, scan_recording

# OKX's BTC-USDT-SWAP: lots of 0.1 contracts of 0.01 BTC (a lot is 0.001 BTC)
OKX = Instrument("BTC-USDT-SWAP", Decimal("0.1"), Decimal("0.1"), 1, 10**9, Decimal(0),
                 base_asset="BTC", quote_asset="USDT", contract_size=Decimal("0.01"))  # fmt: skip
HL = Instrument("BTC", Decimal(1), Decimal("0.001"), 1, 10**9, Decimal(0),
                base_asset="BTC", quote_asset="USDC")  # fmt: skip
BINANCE = Instrument("BTCUSDT", Decimal("0.1"), Decimal("0.001"), 1, 10**9, Decimal(5),
                     base_asset="BTC", quote_asset="USDT")  # fmt: skip


def write(tmp: Path, inst: Instrument, events: list[Event]) -> Path:
    enc = CollectorEncoder(inst)
    lines = [enc(1_000_000 * (i + 1), ev) for i, ev in enumerate(events)]
    path = tmp / "rec.gz"
    path.write_bytes(gzip.compress(b"".join(line for line in lines if line is not None)))
    return path


def replay(path: Path) -> tuple[Instrument, list[Event], int]:
    inst = scan_recording([path]).instrument
    reader = RecordingReader([path], inst)
    return inst, [ev for _, ev in reader], reader.gaps


def book(ev: BookSnapshot | BookDelta, inst: Instrument) -> tuple[list[str], list[str]]:
    return ([f"{inst.price_str(p)}x{inst.base_str(q)}" for p, q in ev.bids],
            [f"{inst.price_str(p)}x{inst.base_str(q)}" for p, q in ev.asks])  # fmt: skip


def test_okx_contracts_are_written_in_btc_and_its_one_id_diffs_continue_the_snapshot(
    tmp_path: Path,
) -> None:
    snap = BookSnapshot(OKX.symbol, ((600_000, 25),), ((600_001, 40),), 1_000, seq=7_000)
    # OKX: seqId/prevSeqId, so first_seq = seq (the sequencer's words), ids not contiguous
    d1 = BookDelta(OKX.symbol, ((600_000, 30),), (), 1_100, 7_040, 7_000, 7_040)
    d2 = BookDelta(OKX.symbol, (), ((600_001, 0), (600_002, 5)), 1_200, 7_090, 7_040, 7_090)
    trade = Trade(OKX.symbol, 1, 600_001, 12, False, 1_150)
    path = write(tmp_path, OKX, [snap, d1, trade, d2])
    inst, events, gaps = replay(path)
    assert gaps == 0
    assert inst.symbol == recording_symbol(OKX) == "BTCUSDT"
    assert (inst.tick_size, inst.base_per_lot) == (Decimal("0.1"), Decimal("0.001"))
    kinds = [type(ev).__name__ for ev in events]
    assert kinds == ["BookSnapshot", "BookDelta", "Trade", "BookDelta"]
    first = events[0]
    assert isinstance(first, BookSnapshot)
    assert book(first, inst) == (["60000.0x0.025"], ["60000.1x0.040"])  # 25 lots = 0.025 BTC
    last = events[3]
    assert isinstance(last, BookDelta) and last.seq == 7_090 and last.prev_seq == 7_040
    assert book(last, inst) == ([], ["60000.1x0.000", "60000.2x0.005"])
    traded = events[2]
    assert isinstance(traded, Trade) and inst.base_str(traded.qty) == "0.012"


def test_a_break_in_the_venue_s_own_chain_is_a_gap_on_replay(tmp_path: Path) -> None:
    """The venue's ids are kept, so a replay checks the continuity the live feed checked."""
    snap = BookSnapshot(OKX.symbol, ((600_000, 25),), ((600_001, 40),), 1_000, seq=7_000)
    d1 = BookDelta(OKX.symbol, ((600_000, 30),), (), 1_100, 7_040, 7_000, 7_040)
    d2 = BookDelta(OKX.symbol, ((600_000, 31),), (), 1_200, 7_090, 7_041, 7_090)  # not 7_040
    _, events, gaps = replay(write(tmp_path, OKX, [snap, d1, d2]))
    assert gaps == 1
    assert [type(ev).__name__ for ev in events] == ["BookSnapshot", "BookDelta", "BookInvalid"]


def test_whole_books_are_written_as_their_changes(tmp_path: Path) -> None:
    """Hyperliquid's l2Book: every message a whole book, no id (seq 0)."""
    b1 = BookSnapshot(HL.symbol, ((60_000, 5), (59_999, 7)), ((60_001, 3),), 1_000)
    b2 = BookSnapshot(HL.symbol, ((60_000, 6),), ((60_001, 3), (60_002, 9)), 1_100)
    b3 = BookSnapshot(HL.symbol, ((60_000, 6),), ((60_001, 3), (60_002, 9)), 1_200)  # same
    gone = BookInvalid(HL.symbol, "stream reconnected", 1_300)
    b4 = BookSnapshot(HL.symbol, ((59_990, 1),), ((59_995, 2),), 1_400)
    b5 = BookSnapshot(HL.symbol, ((59_990, 4),), ((59_995, 2),), 1_500)
    enc = CollectorEncoder(HL)
    assert enc(1, b1) is not None and enc(2, b2) is not None
    assert enc(3, b3) is None  # nothing changed: nothing to replay
    path = write(tmp_path, HL, [b1, b2, b3, gone, b4, b5])
    inst, events, gaps = replay(path)
    assert inst.symbol == "BTCUSDC" and gaps == 1  # the reconnect, as the live feed had it
    assert [type(ev).__name__ for ev in events] == [
        "BookSnapshot", "BookDelta", "BookInvalid", "BookSnapshot", "BookDelta"
    ]  # fmt: skip
    change = events[1]
    assert isinstance(change, BookDelta)
    # 60000 grew to 6, 59999 left the book, 60002 arrived; 60001 unchanged is not repeated
    assert book(change, inst) == (["60000x0.006", "59999x0.000"], ["60002x0.009"])
    resync = events[3]
    assert isinstance(resync, BookSnapshot) and resync.seq > change.seq  # ids keep rising
    after = events[4]
    assert isinstance(after, BookDelta) and book(after, inst) == (["59990x0.004"], [])


def test_binance_feeds_are_written_as_before(tmp_path: Path) -> None:
    snap = BookSnapshot(BINANCE.symbol, ((600_000, 25),), ((600_001, 40),), 1_000, seq=100)
    d1 = BookDelta(BINANCE.symbol, ((600_000, 30),), (), 1_100, 105, 99, 98)
    d2 = BookDelta(BINANCE.symbol, (), ((600_001, 7),), 1_200, 109, 105, 106)
    enc = CollectorEncoder(BINANCE)
    events: list[Event] = [snap, d1, d2]
    for i, ev in enumerate(events):
        assert enc(i, ev) == encode_line(i, ev, BINANCE)


def test_an_unstated_index_price_is_read_as_zero_and_a_negative_one_is_refused() -> None:
    mark = MarkPrice(OKX.symbol, Decimal("60000.5"), Decimal(0), Decimal("0.0001"), 9, 8)
    line = encode_line(1, mark, OKX)
    assert line is not None and b'"i":"0"' in line and b'"s":"BTCUSDT"' in line
    from mmtrio.venues.binance.codec_fields import InstrumentCodec

    ic = InstrumentCodec(BINANCE)
    obj = {"e": "markPriceUpdate", "E": 8, "s": "BTCUSDT", "p": "60000.5", "i": "0",
           "r": "0.0001", "T": 9}  # fmt: skip
    assert parse_mark_price(obj, ic).index_price == 0
    with pytest.raises(ProtocolError, match="'i' must be positive"):
        parse_mark_price({**obj, "i": "-1"}, ic)


def test_a_recording_made_across_a_feed_gap_resyncs_on_its_snapshot(tmp_path: Path) -> None:
    """The live feed's BookInvalid writes no line; its resync snapshot and the diffs after it
    follow. The reader, still synced on the old chain when it read that snapshot, dropped it,
    and the book stayed invalid for the rest of the recording."""
    snap = BookSnapshot(BINANCE.symbol, ((600_000, 25),), ((600_001, 40),), 1_000, seq=100)
    d1 = BookDelta(BINANCE.symbol, ((600_000, 30),), (), 1_100, 105, 100, 101)
    gone = BookInvalid(BINANCE.symbol, "depth gap", 1_150)
    snap2 = BookSnapshot(BINANCE.symbol, ((600_000, 20),), ((600_001, 40),), 1_200, seq=200)
    d3 = BookDelta(BINANCE.symbol, ((600_000, 22),), (), 1_300, 205, 200, 201)
    _, events, gaps = replay(write(tmp_path, BINANCE, [snap, d1, gone, snap2, d3]))
    assert gaps == 1
    assert [type(ev).__name__ for ev in events] == [
        "BookSnapshot", "BookDelta", "BookInvalid", "BookSnapshot", "BookDelta"
    ]  # fmt: skip
    resync, after = events[3], events[4]
    assert isinstance(resync, BookSnapshot) and resync.seq == 200
    assert isinstance(after, BookDelta) and after.seq == 205


def test_a_snapshot_the_chain_runs_through_is_not_a_resync(tmp_path: Path) -> None:
    """The collector's pairs repeat a snapshot the diffs continue past: no gap, no new book."""
    snap = BookSnapshot(BINANCE.symbol, ((600_000, 25),), ((600_001, 40),), 1_000, seq=100)
    d1 = BookDelta(BINANCE.symbol, ((600_000, 30),), (), 1_100, 105, 100, 101)
    again = BookSnapshot(BINANCE.symbol, ((600_000, 30),), ((600_001, 40),), 1_150, seq=105)
    d2 = BookDelta(BINANCE.symbol, ((600_000, 31),), (), 1_200, 109, 105, 106)
    d3 = BookDelta(BINANCE.symbol, ((600_000, 1),), (), 1_300, 300, 290, 291)  # a real gap
    _, events, gaps = replay(write(tmp_path, BINANCE, [snap, d1, again, d2, d3]))
    assert gaps == 1  # only d3's, with no resync snapshot to use (the repeat was spent)
    assert [type(ev).__name__ for ev in events] == [
        "BookSnapshot", "BookDelta", "BookDelta", "BookInvalid"
    ]  # fmt: skip
