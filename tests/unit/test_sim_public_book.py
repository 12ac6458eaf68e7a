"""The sim's public book: market + our orders, published folded into the market's deltas.

Checked against a brute-force model: after any sequence of market deltas and changes of our
resting lots, the best levels and ticker equal those of the summed book, each published delta
continues the last (``prev_seq``) under the market's own ids, and a client applying the
published deltas holds exactly the public book.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mmtrio.core.events import BookDelta, BookSnapshot
from mmtrio.core.instruments import BTCUSDT
from mmtrio.sim.book import PublicBook
from mmtrio.sim.market import apply_levels

MID = 600_000
bid_prices = st.integers(min_value=MID - 8, max_value=MID)
ask_prices = st.integers(min_value=MID + 1, max_value=MID + 9)
levels = st.lists(st.tuples(st.integers(MID - 8, MID + 9), st.integers(0, 30)), max_size=6)
ours = st.dictionaries(st.integers(MID - 8, MID + 9), st.integers(1, 5), max_size=3)
steps = st.lists(st.tuples(levels, levels, ours, ours), max_size=25)


def _summed(market: dict[int, int], mine: dict[int, int]) -> dict[int, int]:
    out = dict(market)
    for p, q in mine.items():
        out[p] = out.get(p, 0) + q
    return out


@given(
    st.dictionaries(bid_prices, st.integers(1, 30), min_size=1, max_size=6),
    st.dictionaries(ask_prices, st.integers(1, 30), min_size=1, max_size=6),
    steps,
)
def test_public_book_is_market_plus_ours_and_its_deltas_rebuild_it(
    bids0: dict[int, int], asks0: dict[int, int], script: list[tuple[object, ...]]
) -> None:
    snap = BookSnapshot("BTCUSDT", tuple(sorted(bids0.items())), tuple(asks0.items()), 0, seq=100)
    book = PublicBook(BTCUSDT, snap)
    market_b, market_a = dict(bids0), dict(asks0)
    client_b, client_a = dict(bids0), dict(asks0)  # a client that synced at seq 100
    seq = 100
    for i, (db, da, ob, oa) in enumerate(script, 1):
        assert isinstance(db, list) and isinstance(da, list)
        assert isinstance(ob, dict) and isinstance(oa, dict)
        delta = BookDelta("BTCUSDT", tuple(db), tuple(da), i, seq + 3, seq, seq + 1)
        public = book.publish(delta, ob, oa)
        assert (public.prev_seq, public.seq, public.first_seq) == (seq, seq + 3, seq + 1)
        seq += 3
        apply_levels(market_b, tuple(db))
        apply_levels(market_a, tuple(da))
        apply_levels(client_b, public.bids)
        apply_levels(client_a, public.asks)
        want_b, want_a = _summed(market_b, ob), _summed(market_a, oa)
        assert (client_b, client_a) == (want_b, want_a)
        bid, ask = book.best()
        assert bid == (max(want_b.items()) if want_b else None)
        assert ask == (min(want_a.items()) if want_a else None)
        ticker = book.ticker(ts=i)
        if bid is None or ask is None:
            assert ticker is None
        else:
            assert ticker is not None and ticker.seq == seq
            assert (ticker.bid_price, ticker.bid_qty, ticker.ask_price, ticker.ask_qty) == (
                *bid,
                *ask,
            )
        top_b, top_a = book.top(3)
        assert top_b == sorted(want_b.items(), reverse=True)[:3]
        assert top_a == sorted(want_a.items())[:3]
