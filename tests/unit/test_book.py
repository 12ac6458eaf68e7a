"""OrderBook and BookSync: queries, continuity rules, and a replay of real Binance data."""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from mmtrio.core.book import BookSync, DiffOutcome, OrderBook
from mmtrio.core.events import BookSnapshot, BookTicker, DepthDiff, Level, Side
from mmtrio.core.instruments import BTCUSDT, Instrument
from mmtrio.errors import BookError, ParameterError

SYM = "BTCUSDT"


def snap(uid: int, bids: list[Level], asks: list[Level]) -> BookSnapshot:
    return BookSnapshot(SYM, uid, tuple(bids), tuple(asks), ts=0)


def diff(
    first: int, last: int, prev: int, bids: Sequence[Level] = (), asks: Sequence[Level] = ()
) -> DepthDiff:
    return DepthDiff(SYM, first, last, prev, tuple(bids), tuple(asks), ts=0)


@pytest.fixture
def book() -> OrderBook:
    b = OrderBook(SYM)
    outcome = b.apply_snapshot(
        snap(100, [(1000, 5), (999, 3), (995, 7)], [(1002, 4), (1003, 1), (1010, 9)])
    )
    assert outcome is DiffOutcome.APPLIED
    return b


def test_queries_after_snapshot(book: OrderBook) -> None:
    assert book.synced and book.out_of_sync_reason == ""
    assert book.last_update_id == 100
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
    assert b.last_update_id is None
    b.apply_snapshot(snap(1, [(1000, 1)], []))
    assert b.best_ask() is None and b.mid() is None and not b.is_crossed()
    assert b.depth_within(Side.SELL, 3) == 0


def test_bad_query_arguments(book: OrderBook) -> None:
    with pytest.raises(ParameterError):
        book.depth_within(Side.BUY, -1)
    with pytest.raises(ParameterError):
        book.levels(Side.BUY, -1)


def test_first_diff_rules(book: OrderBook) -> None:
    # u < lastUpdateId: stale, dropped without touching the book
    assert book.apply_diff(diff(90, 99, 89, bids=[(1000, 99)])) is DiffOutcome.STALE
    assert book.best_bid() == (1000, 5)
    # U <= lastUpdateId <= u: applied; its pu is irrelevant for the first diff
    assert book.apply_diff(diff(95, 105, 94, bids=[(1001, 2)])) is DiffOutcome.APPLIED
    assert book.best_bid() == (1001, 2)
    assert book.last_update_id == 105
    # then pu must equal the previous u
    assert book.apply_diff(diff(106, 110, 105, asks=[(1002, 0)])) is DiffOutcome.APPLIED
    assert book.best_ask() == (1003, 1)


def test_first_diff_exactly_at_last_update_id(book: OrderBook) -> None:
    assert book.apply_diff(diff(100, 100, 99, bids=[(999, 0)])) is DiffOutcome.APPLIED
    assert book.size_at(Side.BUY, 999) == 0


def test_first_diff_chained_to_the_snapshot_id_is_a_continuation(book: OrderBook) -> None:
    # Snapshot at 100 taken on a diff boundary: the next diff (pu=100) starts at 101.
    assert book.apply_diff(diff(101, 105, 100, bids=[(1001, 2)])) is DiffOutcome.APPLIED
    assert book.synced and book.best_bid() == (1001, 2)


def test_gap_after_snapshot_is_reported(book: OrderBook) -> None:
    assert book.apply_diff(diff(102, 105, 101, bids=[(1001, 2)])) is DiffOutcome.GAP
    assert not book.synced
    assert "gap after snapshot" in book.out_of_sync_reason
    assert book.best_bid() == (1000, 5)  # nothing applied


def test_broken_chain_stops_everything_until_snapshot(book: OrderBook) -> None:
    assert book.apply_diff(diff(95, 105, 94)) is DiffOutcome.APPLIED
    assert book.apply_diff(diff(107, 110, 106, bids=[(1001, 1)])) is DiffOutcome.GAP
    assert "pu=106" in book.out_of_sync_reason
    # even a diff that would continue the old chain is not applied any more
    assert book.apply_diff(diff(106, 106, 105, bids=[(1001, 1)])) is DiffOutcome.NOT_SYNCED
    assert book.best_bid() == (1000, 5)
    assert book.apply_snapshot(snap(200, [(990, 1)], [(991, 1)])) is DiffOutcome.APPLIED
    assert book.synced and book.best_bid() == (990, 1) and book.size_at(Side.BUY, 1000) == 0


def test_duplicate_diff_is_a_gap(book: OrderBook) -> None:
    d = diff(95, 105, 94)
    assert book.apply_diff(d) is DiffOutcome.APPLIED
    assert book.apply_diff(diff(106, 110, 105)) is DiffOutcome.APPLIED
    assert book.apply_diff(diff(106, 110, 105)) is DiffOutcome.GAP


def test_size_zero_deletes_and_unknown_deletion_is_normal(book: OrderBook) -> None:
    outcome = book.apply_diff(diff(95, 105, 94, bids=[(1000, 0), (42, 0)], asks=[(5000, 0)]))
    assert outcome is DiffOutcome.APPLIED
    assert book.best_bid() == (999, 3)
    assert book.depth(Side.BUY) == 2 and book.depth(Side.SELL) == 3


def test_crossing_diff_is_reported(book: OrderBook) -> None:
    outcome = book.apply_diff(diff(95, 105, 94, bids=[(1002, 1)]))
    assert outcome is DiffOutcome.CROSSED
    assert book.is_crossed()
    assert not book.synced and "crossed" in book.out_of_sync_reason


def test_locked_book_counts_as_crossed(book: OrderBook) -> None:
    assert book.apply_diff(diff(95, 105, 94, asks=[(1000, 1)])) is DiffOutcome.CROSSED


def test_crossed_snapshot_is_not_synced() -> None:
    b = OrderBook(SYM)
    assert b.apply_snapshot(snap(1, [(1005, 1)], [(1001, 1)])) is DiffOutcome.CROSSED
    assert not b.synced and "crossed" in b.out_of_sync_reason


def test_malformed_levels_raise_and_unsync(book: OrderBook) -> None:
    with pytest.raises(BookError, match="invalid"):
        book.apply_diff(diff(95, 105, 94, bids=[(1000, -1)]))
    assert not book.synced
    assert book.best_bid() == (1000, 5)  # validated before anything was applied
    with pytest.raises(BookError, match="invalid"):
        OrderBook(SYM).apply_snapshot(snap(1, [(0, 1)], []))


def test_wrong_symbol_raises(book: OrderBook) -> None:
    with pytest.raises(BookError, match="ETHUSDT"):
        book.apply_diff(DepthDiff("ETHUSDT", 95, 105, 94, (), (), 0))
    with pytest.raises(BookError):
        OrderBook("")


def test_mark_out_of_sync(book: OrderBook) -> None:
    book.mark_out_of_sync("market stream disconnected")
    assert not book.synced
    assert book.out_of_sync_reason == "market stream disconnected"


# --- BookSync ------------------------------------------------------------------------------


def test_booksync_buffers_then_replays() -> None:
    sync = BookSync(OrderBook(SYM))
    assert not sync.book.synced  # (needs_snapshot is checked after the snapshot)
    assert sync.on_diff(diff(80, 90, 79, bids=[(1, 1)])) is DiffOutcome.BUFFERED
    assert sync.on_diff(diff(91, 103, 90, bids=[(1000, 8)])) is DiffOutcome.BUFFERED
    assert sync.on_diff(diff(104, 110, 103, asks=[(1002, 0)])) is DiffOutcome.BUFFERED
    assert sync.buffered == 3
    assert sync.on_snapshot(snap(100, [(1000, 5)], [(1002, 4), (1003, 1)])) is DiffOutcome.APPLIED
    assert not sync.needs_snapshot and sync.buffered == 0
    assert sync.book.best_bid() == (1000, 8)
    assert sync.book.best_ask() == (1003, 1)
    assert sync.book.size_at(Side.BUY, 1) == 0  # the stale diff was dropped
    assert sync.book.last_update_id == 110
    assert sync.on_diff(diff(111, 112, 110, bids=[(1001, 1)])) is DiffOutcome.APPLIED
    assert sync.book.best_bid() == (1001, 1)


def test_booksync_snapshot_newer_than_buffer_waits_for_bridge() -> None:
    sync = BookSync(OrderBook(SYM))
    sync.on_diff(diff(80, 90, 79))
    assert sync.on_snapshot(snap(100, [(1000, 5)], [(1002, 4)])) is DiffOutcome.APPLIED
    assert sync.on_diff(diff(91, 99, 90)) is DiffOutcome.STALE
    assert sync.on_diff(diff(100, 105, 99)) is DiffOutcome.APPLIED


def test_booksync_buffer_not_bridging_is_gap_and_keeps_newer() -> None:
    sync = BookSync(OrderBook(SYM))
    sync.on_diff(diff(105, 110, 104))
    sync.on_diff(diff(111, 120, 110))
    assert sync.on_snapshot(snap(100, [(1000, 5)], [(1002, 4)])) is DiffOutcome.GAP
    assert sync.needs_snapshot
    assert sync.buffered == 2  # kept for the next snapshot
    assert sync.on_snapshot(snap(112, [(1000, 6)], [(1002, 4)])) is DiffOutcome.APPLIED
    assert sync.book.last_update_id == 120


def test_booksync_gap_while_live_rebuffers() -> None:
    sync = BookSync(OrderBook(SYM))
    sync.on_snapshot(snap(100, [(1000, 5)], [(1002, 4)]))
    assert sync.on_diff(diff(95, 105, 94)) is DiffOutcome.APPLIED
    assert sync.on_diff(diff(200, 210, 199)) is DiffOutcome.GAP
    assert sync.needs_snapshot and sync.buffered == 1
    assert sync.on_diff(diff(211, 220, 210)) is DiffOutcome.BUFFERED
    assert sync.on_snapshot(snap(205, [(990, 1)], [(992, 1)])) is DiffOutcome.APPLIED
    assert sync.book.last_update_id == 220


def test_booksync_bounded_buffer_drops_oldest() -> None:
    sync = BookSync(OrderBook(SYM), max_buffer=2)
    for i in range(5):
        sync.on_diff(diff(10 * i + 1, 10 * i + 10, 10 * i))
    assert sync.buffered == 2 and sync.dropped_from_buffer == 3
    # the snapshot needed a dropped diff: reported, never a silent hole
    assert sync.on_snapshot(snap(15, [(1, 1)], [(2, 1)])) is DiffOutcome.GAP
    with pytest.raises(ParameterError):
        BookSync(OrderBook(SYM), max_buffer=0)


# --- real data -----------------------------------------------------------------------------

DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm" / "btcusdt_20240808.gz"


def _levels(inst: Instrument, raw: list[list[str]]) -> tuple[Level, ...]:
    return tuple((inst.price_to_ticks(p), inst.qty_to_lots(q)) for p, q in raw)


def _read(
    path: Path, inst: Instrument, max_lines: int
) -> list[BookSnapshot | DepthDiff | BookTicker]:
    """Parse a recording prefix with json + Decimal (test helper; the codec is elsewhere)."""
    out: list[BookSnapshot | DepthDiff | BookTicker] = []
    with gzip.open(path, "rt") as fh:
        for line in itertools.islice(fh, max_lines):
            msg = json.loads(line.split(" ", 1)[1])
            if "lastUpdateId" in msg:
                out.append(
                    BookSnapshot(
                        inst.symbol,
                        msg["lastUpdateId"],
                        _levels(inst, msg["bids"]),
                        _levels(inst, msg["asks"]),
                        msg["T"],
                    )
                )
                continue
            d = msg["data"]
            if d["e"] == "depthUpdate":
                out.append(
                    DepthDiff(
                        inst.symbol,
                        d["U"],
                        d["u"],
                        d["pu"],
                        _levels(inst, d["b"]),
                        _levels(inst, d["a"]),
                        d["T"],
                    )
                )
            elif d["e"] == "bookTicker":
                out.append(
                    BookTicker(
                        inst.symbol,
                        d["u"],
                        inst.price_to_ticks(d["b"]),
                        inst.qty_to_lots(d["B"]),
                        inst.price_to_ticks(d["a"]),
                        inst.qty_to_lots(d["A"]),
                        d["T"],
                    )
                )
    return out


def test_replay_matches_every_book_ticker_with_same_update_id() -> None:
    """Rebuild the book from the recording and compare with bookTicker.

    Matching rule worked out from the data: a bookTicker's ``u`` equals the ``u`` (last_id) of
    the depth diff after which the top of book is what the ticker shows; tickers with ids in
    between diffs describe intermediate states a 0 ms diff aggregates away, so only equal ids
    are comparable. The ticker is often recorded *before* its diff, so tickers are indexed by
    id first and checked when the diff with that ``u`` has been applied.
    """
    msgs = _read(DATA, BTCUSDT, max_lines=20_000)
    tickers = {m.update_id: m for m in msgs if isinstance(m, BookTicker)}
    sync = BookSync(OrderBook(BTCUSDT.symbol))
    checked = applied = 0
    for m in msgs:
        if isinstance(m, BookSnapshot):
            assert sync.on_snapshot(m) is DiffOutcome.APPLIED
        elif isinstance(m, DepthDiff):
            outcome = sync.on_diff(m)
            if sync.book.synced:
                assert outcome in (DiffOutcome.APPLIED, DiffOutcome.STALE)
            else:
                assert outcome is DiffOutcome.BUFFERED
                continue
            if outcome is not DiffOutcome.APPLIED:
                continue
            applied += 1
            ticker = tickers.get(m.last_id)
            if ticker is not None:
                assert sync.book.best_bid() == (ticker.bid_price, ticker.bid_qty)
                assert sync.book.best_ask() == (ticker.ask_price, ticker.ask_qty)
                checked += 1
    assert sync.book.synced
    assert applied > 1_000
    assert checked > 100  # 154 tickers share an id with a diff in this prefix
