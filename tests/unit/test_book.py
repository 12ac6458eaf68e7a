"""OrderBook: queries, snapshots and deltas (continuity is the venue sequencer's: see
tests/unit/test_binance_sequencer.py), crossed and malformed input."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mmtrio.core.book import BookOutcome, OrderBook
from mmtrio.core.events import BookDelta, BookSnapshot, Level, Side
from mmtrio.errors import BookError, ParameterError

SYM = "BTCUSDT"


def snap(seq: int, bids: list[Level], asks: list[Level]) -> BookSnapshot:
    return BookSnapshot(SYM, tuple(bids), tuple(asks), ts=0, seq=seq)


def delta(seq: int, bids: Sequence[Level] = (), asks: Sequence[Level] = ()) -> BookDelta:
    return BookDelta(SYM, tuple(bids), tuple(asks), ts=0, seq=seq, prev_seq=seq - 1)


@pytest.fixture
def book() -> OrderBook:
    b = OrderBook(SYM)
    outcome = b.apply_snapshot(
        snap(100, [(1000, 5), (999, 3), (995, 7)], [(1002, 4), (1003, 1), (1010, 9)])
    )
    assert outcome is BookOutcome.APPLIED
    return b


def test_queries_after_snapshot(book: OrderBook) -> None:
    assert book.synced and book.out_of_sync_reason == ""
    assert book.seq == 100
    assert book.best_bid() == (1000, 5)
    assert book.best_ask() == (1002, 4)
    assert book.mid() == 1001.0
    assert book.spread() == 2
    assert not book.is_crossed()
    assert book.size_at(Side.BUY, 999) == 3
    assert book.size_at(Side.BUY, 1002) == 0
    assert book.size_at(Side.SELL, 1003) == 1
    assert book.levels(Side.BUY, 2) == [(1000, 5), (999, 3)]
    assert book.levels(Side.SELL, 10) == [(1002, 4), (1003, 1), (1010, 9)]
    assert book.levels(Side.SELL, 0) == []
    assert book.depth_within(Side.BUY, 0) == 5
    assert book.depth_within(Side.BUY, 1) == 8
    assert book.depth_within(Side.BUY, 5) == 15
    assert book.depth_within(Side.SELL, 1) == 5
    assert book.depth_within(Side.SELL, 7) == 5
    assert book.depth_within(Side.SELL, 8) == 14
    assert book.depth(Side.BUY) == 3


def test_mid_can_be_half_tick() -> None:
    b = OrderBook(SYM)
    b.apply_snapshot(snap(1, [(1000, 1)], [(1001, 1)]))
    assert b.mid() == 1000.5
    assert b.spread() == 1


def test_empty_and_one_sided_book() -> None:
    b = OrderBook(SYM)
    assert not b.synced and "no snapshot" in b.out_of_sync_reason
    assert b.best_bid() is None and b.best_ask() is None
    assert b.mid() is None and b.spread() is None
    assert b.seq == 0
    b.apply_snapshot(snap(1, [(1000, 1)], []))
    assert b.best_ask() is None and b.mid() is None and not b.is_crossed()
    assert b.depth_within(Side.SELL, 3) == 0


def test_bad_query_arguments(book: OrderBook) -> None:
    with pytest.raises(ParameterError):
        book.depth_within(Side.BUY, -1)
    with pytest.raises(ParameterError):
        book.levels(Side.BUY, -1)


def test_deltas_apply_in_order_and_carry_the_venue_seq(book: OrderBook) -> None:
    assert book.apply_delta(delta(105, bids=[(1001, 2)])) is BookOutcome.APPLIED
    assert book.best_bid() == (1001, 2)
    assert book.seq == 105
    assert book.apply_delta(delta(110, asks=[(1002, 0)])) is BookOutcome.APPLIED
    assert book.best_ask() == (1003, 1) and book.seq == 110


def test_a_delta_before_any_snapshot_is_not_applied() -> None:
    b = OrderBook(SYM)
    assert b.apply_delta(delta(5, bids=[(1000, 1)])) is BookOutcome.NOT_SYNCED
    assert b.best_bid() is None


def test_an_invalidated_book_applies_nothing_until_a_snapshot(book: OrderBook) -> None:
    book.mark_out_of_sync("depth gap (venue sequencer)")
    assert book.apply_delta(delta(106, bids=[(1001, 1)])) is BookOutcome.NOT_SYNCED
    assert book.best_bid() == (1000, 5)
    assert book.apply_snapshot(snap(200, [(990, 1)], [(991, 1)])) is BookOutcome.APPLIED
    assert book.synced and book.best_bid() == (990, 1) and book.size_at(Side.BUY, 1000) == 0


def test_size_zero_deletes_and_unknown_deletion_is_normal(book: OrderBook) -> None:
    outcome = book.apply_delta(delta(105, bids=[(1000, 0), (42, 0)], asks=[(5000, 0)]))
    assert outcome is BookOutcome.APPLIED
    assert book.best_bid() == (999, 3)
    assert book.depth(Side.BUY) == 2 and book.depth(Side.SELL) == 3


def test_crossing_delta_is_reported(book: OrderBook) -> None:
    outcome = book.apply_delta(delta(105, bids=[(1002, 1)]))
    assert outcome is BookOutcome.CROSSED
    assert book.is_crossed()
    assert not book.synced and "crossed" in book.out_of_sync_reason


def test_locked_book_counts_as_crossed(book: OrderBook) -> None:
    assert book.apply_delta(delta(105, asks=[(1000, 1)])) is BookOutcome.CROSSED


def test_crossed_snapshot_is_not_synced() -> None:
    b = OrderBook(SYM)
    assert b.apply_snapshot(snap(1, [(1005, 1)], [(1001, 1)])) is BookOutcome.CROSSED
    assert not b.synced and "crossed" in b.out_of_sync_reason


def test_malformed_levels_raise_and_unsync(book: OrderBook) -> None:
    with pytest.raises(BookError, match="invalid"):
        book.apply_delta(delta(105, bids=[(1000, -1)]))
    assert not book.synced
    assert book.best_bid() == (1000, 5)  # validated before anything was applied
    with pytest.raises(BookError, match="invalid"):
        OrderBook(SYM).apply_snapshot(snap(1, [(0, 1)], []))


def test_wrong_symbol_raises(book: OrderBook) -> None:
    with pytest.raises(BookError, match="ETHUSDT"):
        book.apply_delta(BookDelta("ETHUSDT", (), (), 0, seq=105))
    with pytest.raises(BookError):
        OrderBook("")


def test_mark_out_of_sync(book: OrderBook) -> None:
    book.mark_out_of_sync("market stream disconnected")
    assert not book.synced
    assert book.out_of_sync_reason == "market stream disconnected"
