"""OKX books continuity (prevSeqId == last seqId) and the non-zero-only checksum rule."""

from __future__ import annotations

import zlib
from decimal import Decimal

from mmtrio.core.events import BookDelta, BookSnapshot
from mmtrio.core.instruments import Instrument
from mmtrio.venues.okx.codec_market import BooksMessage, RawLevel
from mmtrio.venues.okx.fields import InstrumentCodec
from mmtrio.venues.okx.sequencer import BooksSequencer, checksum_string, crc32_signed

INST = Instrument(
    symbol="BTC-USDT-SWAP",
    tick_size=Decimal("0.1"),
    lot_size=Decimal("1"),
    min_qty=1,
    max_qty=10**9,
    min_notional=Decimal(0),
)
IC = InstrumentCodec(INST)


def lv(px: str, sz: str) -> RawLevel:
    return (IC.px(px), IC.sz(sz), px, sz)


def msg(
    seq: int,
    prev: int,
    bids: tuple[RawLevel, ...] = (),
    asks: tuple[RawLevel, ...] = (),
    checksum: int = 0,
    snapshot: bool = False,
) -> BooksMessage:
    return BooksMessage("BTC-USDT-SWAP", snapshot, bids, asks, 1000 + seq, checksum, prev, seq)


SNAP = msg(
    100,
    -1,
    (lv("3366.1", "7"), lv("3366", "6")),
    (lv("3366.8", "9"), lv("3368", "8")),
    snapshot=True,
)


def test_checksum_string_and_crc_as_the_docs_describe() -> None:
    # OKX's documented example: bids 3366.1/7, 3366/6; asks 3366.8/9, 3368/8.
    s = checksum_string([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")])
    assert s == "3366.1:7:3366.8:9:3366:6:3368:8"
    unsigned = zlib.crc32(s.encode())
    assert crc32_signed(s) == (unsigned - 2**32 if unsigned >= 2**31 else unsigned)
    assert crc32_signed(s) < 0  # this one is above 2^31 unsigned: printed negative
    # Uneven sides: the longer side's extra levels follow alone.
    assert checksum_string([("1", "1")], [("2", "1"), ("3", "1")]) == "1:1:2:1:3:1"


def test_chain_with_jumping_ids_keepalive_and_reset() -> None:
    seq = BooksSequencer()
    events, gap = seq.on_message(msg(5, 4))
    assert (events, gap) == ([], False)  # nothing before the snapshot
    events, gap = seq.on_message(SNAP)
    assert not gap and isinstance(events[0], BookSnapshot) and events[0].seq == 100
    events, gap = seq.on_message(msg(137, 100, bids=(lv("3366.1", "0"),)))  # ids jump: fine
    assert not gap
    assert events == [BookDelta("BTC-USDT-SWAP", ((33661, 0),), (), 1137, 137, 100, 137)]
    assert seq.on_message(msg(137, 137)) == ([], False)  # keep-alive: prevSeqId == seqId
    events, gap = seq.on_message(msg(3, 137, asks=(lv("3367", "1"),)))  # maintenance reset
    assert not gap and isinstance(events[0], BookDelta) and seq.last_seq == 3


def test_gap_and_reorder_reset_until_a_snapshot() -> None:
    seq = BooksSequencer()
    seq.on_message(SNAP)
    seq.on_message(msg(110, 100))
    events, gap = seq.on_message(msg(130, 120))  # 110 → 120 missing
    assert gap and events == [] and seq.gaps == 1 and not seq.synced
    assert "prevSeqId 120" in seq.last_gap
    assert seq.on_message(msg(140, 130)) == ([], False)  # dropped until resynced
    seq.on_message(SNAP)
    seq.on_message(msg(110, 100))
    _, gap = seq.on_message(msg(105, 100))  # a reordered (older) push
    assert gap and seq.gaps == 2


def test_checksum_checked_only_when_non_zero() -> None:
    good = crc32_signed("3366.1:7:3366.8:9:3366:6:3368:8")
    seq = BooksSequencer()
    _events, gap = seq.on_message(msg(100, -1, SNAP.bids, SNAP.asks, good, snapshot=True))
    assert not gap and seq.checked == 1
    # An update with checksum 0: not sent, not a mismatch (OKX's frames since 2026).
    _, gap = seq.on_message(msg(101, 100, bids=(lv("3366.1", "8"),), checksum=0))
    assert not gap and seq.checked == 1
    # A non-zero checksum that does not match the book: a gap.
    _, gap = seq.on_message(msg(102, 101, bids=(lv("3366.1", "9"),), checksum=good))
    assert gap and seq.checksum_mismatches == 1
    # The right one over the book kept as strings: 3366.1 now 9, the rest unchanged.
    seq.on_message(msg(100, -1, SNAP.bids, SNAP.asks, 0, snapshot=True))
    want = crc32_signed("3366.1:9:3366.8:9:3366:6:3368:8")
    _, gap = seq.on_message(msg(101, 100, bids=(lv("3366.1", "9"),), checksum=want))
    assert not gap and seq.checksum_mismatches == 1


def test_checksum_covers_only_the_top_25_levels() -> None:
    bids = tuple(lv(f"{3000 - i}", "1") for i in range(30))
    asks = tuple(lv(f"{3100 + i}", "2") for i in range(30))
    s = checksum_string([(b[2], b[3]) for b in bids[:25]], [(a[2], a[3]) for a in asks[:25]])
    seq = BooksSequencer()
    _, gap = seq.on_message(msg(1, -1, bids, asks, crc32_signed(s), snapshot=True))
    assert not gap and seq.checked == 1
