"""Synthetic driver: deterministic under a seed, unbroken chain, never crossed, funding."""

from __future__ import annotations

import hashlib
import itertools
from decimal import Decimal

import pytest

from mmtrio.core.events import BookDelta, BookTicker, MarkPrice, Trade
from mmtrio.core.instruments import BTCUSDT, ETHUSDT, Instrument
from mmtrio.errors import ParameterError
from mmtrio.sim.market import apply_levels
from mmtrio.sim.synthetic import FUNDING_INTERVAL_MS, SyntheticDriver, SyntheticParams

PARAMS = SyntheticParams(max_steps=1_000, jump_intensity=0.5)


def test_same_seed_same_messages_different_seed_differs() -> None:
    a = list(SyntheticDriver(BTCUSDT, 1, PARAMS))
    b = list(SyntheticDriver(BTCUSDT, 1, PARAMS))
    c = list(itertools.islice(SyntheticDriver(BTCUSDT, 2, PARAMS), len(a)))
    assert a == b
    assert a != c


# The first 3,000 messages of seed 7 (default parameters), as the driver made them when this
# was written: a change that only makes the driver faster must leave them alone (every
# deterministic simulation trace is built on this stream).
SEED_7_DIGEST = "958f6fd0ed3c986f838bebf53111f5c5c5cf0d4f6ac058c0baf2c4f49c1db55f"


def test_a_seed_s_stream_is_the_one_pinned() -> None:
    digest = hashlib.sha256()
    for msg in itertools.islice(SyntheticDriver(BTCUSDT, 7, SyntheticParams()), 3000):
        digest.update(repr(msg).encode())
    assert digest.hexdigest() == SEED_7_DIGEST


@pytest.mark.parametrize(
    ("instrument", "start"), [(BTCUSDT, Decimal("60000")), (ETHUSDT, Decimal("3000"))]
)
def test_chain_unbroken_book_never_crossed_tickers_consistent(
    instrument: Instrument, start: Decimal
) -> None:
    drv = SyntheticDriver(
        instrument,
        3,
        SyntheticParams(start_price=start, max_steps=3_000, jump_intensity=0.5),
    )
    snap = drv.initial_snapshot()
    bids, asks = dict(snap.bids), dict(snap.asks)
    last_u, last_ts, last_tid = snap.seq, snap.ts, 0
    kinds: set[str] = set()  # the event types the driver emits
    for msg in drv:
        kinds.add(type(msg.event).__name__)
        assert msg.ts >= last_ts and msg.event.ts == msg.ts
        last_ts = msg.ts
        ev = msg.event
        assert ev.symbol == instrument.symbol
        if isinstance(ev, BookDelta):
            assert ev.prev_seq == last_u and ev.first_seq == last_u + 1
            # One id per level changed, as the module documents.
            assert ev.seq == last_u + len(ev.bids) + len(ev.asks)
            last_u = ev.seq
            apply_levels(bids, ev.bids)
            apply_levels(asks, ev.asks)
            assert bids and asks and max(bids) < min(asks), "book crossed or one-sided"
        elif isinstance(ev, BookTicker):
            assert ev.seq == last_u
            assert (ev.bid_price, ev.bid_qty) == (max(bids), bids[max(bids)])
            assert (ev.ask_price, ev.ask_qty) == (min(asks), asks[min(asks)])
        elif isinstance(ev, Trade):
            assert ev.trade_id == last_tid + 1 and ev.qty > 0
            last_tid = ev.trade_id
        elif isinstance(ev, MarkPrice):
            assert ev.next_funding_ts % FUNDING_INTERVAL_MS == 0
            assert 0 < ev.next_funding_ts - ev.ts <= FUNDING_INTERVAL_MS
    assert kinds == {"BookDelta", "Trade", "BookTicker", "MarkPrice"}
    assert last_tid > 100  # market-order flow really trades


def test_price_moves_with_volatility() -> None:
    calm = SyntheticDriver(
        BTCUSDT, 5, SyntheticParams(max_steps=2_000, volatility=0.0, jump_intensity=0.0)
    )
    wild = SyntheticDriver(BTCUSDT, 5, SyntheticParams(max_steps=2_000, volatility=2.0))

    def mids(drv: SyntheticDriver) -> set[int]:
        return {m.event.bid_price for m in drv if isinstance(m.event, BookTicker)}

    assert len(mids(wild)) > 5 * len(mids(calm))


@pytest.mark.parametrize(
    "bad",
    [
        {"volatility": float("nan")},
        {"step_ms": 0},
        {"market_qty_mean": 0.5},
        {"start_price": Decimal("-1")},
        {"funding_rate": Decimal("0.5")},
    ],
)
def test_invalid_params_raise(bad: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        SyntheticParams(**bad)  # type: ignore[arg-type]
