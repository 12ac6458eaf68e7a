"""Properties of OrderBook (equals a naive dict model; crosses are caught) and of Binance's
depth sequencer (any broken chain is detected: the book never sees a holed delta)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mmtrio.core.book import BookOutcome, OrderBook
from mmtrio.core.events import BookDelta, BookSnapshot, Level, Side
from mmtrio.venues.binance.codec_market import DepthSnapshot, DepthUpdate
from mmtrio.venues.binance.sequencer import DepthSequencer
from tests.strategies import BOOK_MID, book_levels, depth_chains

SYM = "TESTUSDT"


class NaiveBook:
    """The reference: two dicts, everything recomputed by sorting."""

    def __init__(self, bids: list[Level], asks: list[Level]) -> None:
        self.bids = {p: q for p, q in bids if q > 0}
        self.asks = {p: q for p, q in asks if q > 0}

    def apply(self, bids: list[Level], asks: list[Level]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for p, q in levels:
                if q:
                    side[p] = q
                else:
                    side.pop(p, None)

    def levels(self, side: Side) -> list[Level]:
        if side is Side.BUY:
            return sorted(self.bids.items(), reverse=True)
        return sorted(self.asks.items())

    def crossed(self) -> bool:
        return bool(self.bids) and bool(self.asks) and max(self.bids) >= min(self.asks)


def _last_level_wins(levels: list[Level]) -> list[Level]:
    # A snapshot lists each price once; keep the last occurrence like a dict build would.
    return list(dict(levels).items())


def assert_same(book: OrderBook, ref: NaiveBook) -> None:
    for side in (Side.BUY, Side.SELL):
        expected = ref.levels(side)
        assert book.levels(side, 10_000) == expected
        assert book.depth(side) == len(expected)
        assert (book.best_bid() if side is Side.BUY else book.best_ask()) == (
            expected[0] if expected else None
        )
        for n in (0, 1, 3, 50):
            if expected:
                best = expected[0][0]
                want = sum(q for p, q in expected if abs(p - best) <= n)
                assert book.depth_within(side, n) == want
        for p, q in expected:
            assert book.size_at(side, p) == q
    if ref.bids and ref.asks:
        assert book.spread() == min(ref.asks) - max(ref.bids)
        assert book.mid() == (min(ref.asks) + max(ref.bids)) / 2
    assert book.is_crossed() == ref.crossed()


# Prices near the mid, so diffs hit existing levels and the best often.
bid_levels = book_levels(BOOK_MID - 40, BOOK_MID, max_size=8)
ask_levels = book_levels(BOOK_MID + 1, BOOK_MID + 40, max_size=8)


@given(
    chain=depth_chains(),
    snap_bids=bid_levels,
    snap_asks=ask_levels,
    updates=st.lists(st.tuples(bid_levels, ask_levels), min_size=12, max_size=12),
)
def test_book_equals_naive_model_after_valid_chain(
    chain: tuple[int, list[tuple[int, int, int]]],
    snap_bids: list[Level],
    snap_asks: list[Level],
    updates: list[tuple[list[Level], list[Level]]],
) -> None:
    last_update_id, ids = chain
    snap_bids, snap_asks = _last_level_wins(snap_bids), _last_level_wins(snap_asks)
    book = OrderBook(SYM)
    seq = DepthSequencer()
    (snap_ev,), gap = seq.on_snapshot(
        DepthSnapshot(SYM, last_update_id, tuple(snap_bids), tuple(snap_asks), 0)
    )
    assert not gap and isinstance(snap_ev, BookSnapshot)
    book.apply_snapshot(snap_ev)
    ref = NaiveBook(snap_bids, snap_asks)
    assert_same(book, ref)
    for (first, last, prev), (bids, asks) in zip(ids, updates, strict=False):
        deltas, gap = seq.on_diff(DepthUpdate(SYM, first, last, prev, tuple(bids), tuple(asks), 0))
        assert not gap and len(deltas) == 1
        assert book.apply_delta(deltas[0]) is BookOutcome.APPLIED
        ref.apply(bids, asks)
        assert_same(book, ref)
        assert book.seq == last
    assert book.synced


@given(
    chain=depth_chains(),
    updates=st.lists(st.tuples(bid_levels, ask_levels), min_size=12, max_size=12),
    data=st.data(),
)
def test_any_broken_chain_is_detected(
    chain: tuple[int, list[tuple[int, int, int]]],
    updates: list[tuple[list[Level], list[Level]]],
    data: st.DataObject,
) -> None:
    last_update_id, ids = chain
    diffs = [
        DepthUpdate(SYM, f, u, pu, tuple(b), tuple(a), 0)
        for (f, u, pu), (b, a) in zip(ids, updates, strict=False)
    ]
    # Break the chain at a position: drop a diff, or corrupt a pu, or skip past the snapshot.
    pos = data.draw(st.integers(min_value=0, max_value=len(diffs) - 1))
    how = data.draw(st.sampled_from(["drop", "pu", "first_after"]))
    if how == "first_after" or (pos == 0 and how == "drop"):
        _, u, pu = ids[0]
        # U > lastUpdateId: the snapshot's id is not covered
        diffs[0] = DepthUpdate(SYM, last_update_id + 1, max(u, last_update_id + 1), pu, (), (), 0)
        broken_at = 0
    elif how == "drop":
        if pos == len(diffs) - 1:
            return  # dropping the last diff leaves a valid chain
        del diffs[pos]
        broken_at = pos
    else:
        if pos == 0:
            return  # the first diff's pu is not checked (it bridges the snapshot instead)
        d = diffs[pos]
        bad_pu = d.prev_last_id + data.draw(st.sampled_from([-1, 1, 7]))
        diffs[pos] = DepthUpdate(SYM, d.first_id, d.last_id, bad_pu, d.bids, d.asks, 0)
        broken_at = pos
    seq = DepthSequencer()
    _, gap = seq.on_snapshot(DepthSnapshot(SYM, last_update_id, ((1, 1),), ((3000, 1),), 0))
    assert not gap
    results = [seq.on_diff(d) for d in diffs]
    # Before the break every diff is forwarded; at it, a gap and nothing forwarded; after it,
    # everything is buffered (nothing forwarded) until a fresh snapshot.
    assert all(len(fwd) == 1 and not g for fwd, g in results[:broken_at])
    assert results[broken_at] == ([], True)
    assert all(r == ([], False) for r in results[broken_at + 1 :])
    assert not seq.synced and seq.gaps == 1
    expected_last = last_update_id if broken_at == 0 else diffs[broken_at - 1].last_id
    if broken_at:
        assert results[broken_at - 1][0][0].seq == expected_last


@given(
    snap_bids=bid_levels,
    snap_asks=ask_levels,
    updates=st.lists(
        st.tuples(
            book_levels(BOOK_MID - 40, BOOK_MID + 40, max_size=4),
            book_levels(BOOK_MID - 40, BOOK_MID + 40, max_size=4),
        ),
        max_size=10,
    ),
)
def test_crossed_detection_matches_model(
    snap_bids: list[Level],
    snap_asks: list[Level],
    updates: list[tuple[list[Level], list[Level]]],
) -> None:
    snap_bids, snap_asks = _last_level_wins(snap_bids), _last_level_wins(snap_asks)
    book = OrderBook(SYM)
    book.apply_snapshot(BookSnapshot(SYM, tuple(snap_bids), tuple(snap_asks), 0, seq=100))
    ref = NaiveBook(snap_bids, snap_asks)
    u = 100
    for bids, asks in updates:
        outcome = book.apply_delta(BookDelta(SYM, tuple(bids), tuple(asks), 0, seq=u))
        u += 1
        ref.apply(bids, asks)
        if ref.crossed():
            assert outcome is BookOutcome.CROSSED
            assert book.is_crossed() and not book.synced
            assert_same(book, ref)  # the crossing diff was applied, and reported
            break
        assert outcome is BookOutcome.APPLIED
        assert_same(book, ref)
