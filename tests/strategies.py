"""Shared hypothesis strategies for the core's property tests.

Each section is owned by the module it feeds; append new strategies at the end.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from mmtrio.core.events import Fill, Side
from mmtrio.core.instruments import BTCUSDT, ETHUSDT, Instrument

# --- instruments -------------------------------------------------------------------------

instruments = st.sampled_from([BTCUSDT, ETHUSDT])
sides = st.sampled_from([Side.BUY, Side.SELL])


@st.composite
def custom_instruments(draw: st.DrawFn) -> Instrument:
    """Instruments with arbitrary (but valid) tick, lot and notional settings."""
    tick_exp = draw(st.integers(min_value=-4, max_value=1))
    tick_mant = draw(st.sampled_from([1, 2, 5]))
    lot_exp = draw(st.integers(min_value=-4, max_value=0))
    min_qty = draw(st.integers(min_value=1, max_value=10))
    return Instrument(
        symbol="TESTUSDT",
        tick_size=Decimal(tick_mant).scaleb(tick_exp),
        lot_size=Decimal(1).scaleb(lot_exp),
        min_qty=min_qty,
        max_qty=min_qty * 100_000,
        min_notional=Decimal(draw(st.sampled_from([0, 5, 20, 100]))),
    )


# --- ledger (core/ledger.py) ---------------------------------------------------------------


@st.composite
def ledger_fills(
    draw: st.DrawFn, instrument: Instrument = BTCUSDT
) -> list[tuple[Fill, Decimal | None]]:
    """A sequence of our fills with unique, increasing trade ids, paired with a mid or None.

    Returns ``[(Fill, mid_or_None), ...]``; prices wander near 60,000 so positions build up,
    reduce and flip through zero; fees include maker rebates (negative).
    """
    n = draw(st.integers(min_value=1, max_value=25))
    base = draw(st.integers(min_value=500_000, max_value=700_000))
    out: list[tuple[Fill, Decimal | None]] = []
    trade_id = draw(st.integers(min_value=1, max_value=10**9))
    for _ in range(n):
        trade_id += draw(st.integers(min_value=1, max_value=5))
        price = base + draw(st.integers(min_value=-50, max_value=50))
        qty = draw(st.integers(min_value=1, max_value=3_000))
        fee = Decimal(draw(st.integers(min_value=-500, max_value=2_000))).scaleb(-6)
        mid_off = draw(st.none() | st.integers(min_value=-3, max_value=3))
        mid = (
            None
            if mid_off is None
            else instrument.ticks_to_price(price) + instrument.tick_size * Decimal(mid_off) / 2
        )
        fill = Fill(
            symbol=instrument.symbol,
            trade_id=trade_id,
            client_id=f"c{trade_id}",
            order_id=trade_id,
            side=draw(sides),
            price=price,
            qty=qty,
            fee=fee,
            fee_asset=instrument.quote_asset,
            is_maker=draw(st.booleans()),
            ts=trade_id,
        )
        out.append((fill, mid))
    return out


ledger_marks = st.integers(min_value=400_000, max_value=800_000)
"""Mark prices in BTCUSDT ticks for ledger property tests."""


# --- risk and rate limits (core/risk.py, core/guards.py, core/ratelimit.py) -----------------

from mmtrio.core.risk import RiskLimits  # noqa: E402  (appended section owns its import)


@st.composite
def risk_limits(draw: st.DrawFn) -> RiskLimits:
    """Valid RiskLimits with small position limits so sequences hit them often."""
    warn = draw(st.sampled_from([0.3, 0.5, 0.6]))
    critical = draw(st.sampled_from([0.7, 0.8, 0.9]))
    return RiskLimits(
        max_position_lots=draw(st.integers(min_value=1, max_value=200)),
        max_notional=Decimal(draw(st.integers(min_value=100, max_value=20_000))),
        max_drawdown=Decimal(draw(st.integers(min_value=1, max_value=1_000))),
        stale_book_ms=draw(st.integers(min_value=100, max_value=10_000)),
        max_feed_latency_ms=draw(st.integers(min_value=10, max_value=5_000)),
        max_orders_per_window=draw(st.integers(min_value=1, max_value=1_000)),
        warn_fraction=warn,
        critical_fraction=critical,
        hard_fraction=draw(st.sampled_from([critical, 0.95, 1.0])),
    )


risk_actions = st.lists(
    st.one_of(
        st.tuples(st.just("place"), sides, st.integers(min_value=1, max_value=80)),
        st.tuples(st.just("fill"), st.integers(min_value=0, max_value=50), st.integers(1, 80)),
        st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=50)),
    ),
    max_size=60,
)
"""Order-life actions for the worst-case property: place(side, lots), fill(i, lots), cancel(i)."""


rate_ops = st.lists(
    st.one_of(
        # (kind, dt_ms, weight, is_order, essential)
        st.tuples(
            st.just("acquire"),
            st.integers(min_value=0, max_value=4_000),
            st.integers(min_value=0, max_value=25),
            st.booleans(),
            st.booleans(),
        ),
        # (kind, dt_ms, weight_1m, orders_10s, orders_1m): venue usage headers
        st.tuples(
            st.just("headers"),
            st.integers(min_value=0, max_value=4_000),
            st.none() | st.integers(min_value=0, max_value=300),
            st.none() | st.integers(min_value=0, max_value=40),
            st.none() | st.integers(min_value=0, max_value=150),
        ),
        # (kind, dt_ms, retry_after_seconds)
        st.tuples(
            st.just("retry_after"),
            st.integers(min_value=0, max_value=4_000),
            st.integers(min_value=0, max_value=30),
        ),
    ),
    max_size=200,
)
"""Operations on a RateBudget, with time advancing by dt_ms before each."""


# --- book (core/book.py) -----------------------------------------------------------------

BOOK_MID = 1_000
"""Bids are drawn at or below BOOK_MID, asks above it, so generated books never cross."""


def book_levels(lo: int, hi: int, max_size: int = 12) -> st.SearchStrategy[list[tuple[int, int]]]:
    """(price ticks, lots) levels in [lo, hi]; lots 0 means delete (as in a diff)."""
    return st.lists(
        st.tuples(st.integers(min_value=lo, max_value=hi), st.integers(min_value=0, max_value=50)),
        max_size=max_size,
    )


@st.composite
def depth_chains(draw: st.DrawFn, max_diffs: int = 12) -> tuple[int, list[tuple[int, int, int]]]:
    """A snapshot lastUpdateId and a valid chain of (U, u, pu) for the diffs after it.

    The first diff bridges the snapshot (U <= lastUpdateId <= u); each later diff's pu is the
    previous diff's u. Ids advance by random strides, as Binance's do.
    """
    last_update_id = draw(st.integers(min_value=10, max_value=10**6))
    first_u = last_update_id + draw(st.integers(min_value=0, max_value=5))
    first_U = last_update_id - draw(st.integers(min_value=0, max_value=5))
    chain = [(first_U, first_u, first_U - draw(st.integers(min_value=1, max_value=5)))]
    for _ in range(draw(st.integers(min_value=0, max_value=max_diffs - 1))):
        prev_u = chain[-1][1]
        big_u = prev_u + draw(st.integers(min_value=1, max_value=5))
        chain.append((big_u, big_u + draw(st.integers(min_value=0, max_value=5)), prev_u))
    return last_update_id, chain


# --- quoting (core/quoting.py, core/models.py) ---------------------------------------------

from mmtrio.core.quoting import (  # noqa: E402  (appended section owns its import)
    MarketView,
    ModelInputs,
    QuoteModel,
    QuoteParams,
)


@st.composite
def market_views(draw: st.DrawFn, instrument: Instrument) -> MarketView:
    """Valid two-sided books inside the instrument's price filter; microprice in the spread."""
    lo = instrument.min_price_ticks
    hi = min(instrument.max_price_ticks, 10**9)
    bid = draw(st.integers(min_value=lo, max_value=hi - 1))
    width = draw(st.sampled_from([1, 1, 2, 3, 10, 1_000]))
    ask = draw(st.integers(min_value=bid + 1, max_value=min(hi, bid + width)))
    weight = draw(st.floats(min_value=0.0, max_value=1.0))
    return MarketView(bid, ask, (bid + ask) / 2, bid + weight * (ask - bid))


broken_market_views = st.one_of(
    st.builds(lambda a: MarketView(None, a, float(a), float(a)), st.integers(1, 10**7)),
    st.builds(lambda b: MarketView(b, None, float(b), float(b)), st.integers(1, 10**7)),
    st.builds(lambda b: MarketView(None, None, float(b), float(b)), st.integers(1, 10**7)),
    # crossed or locked
    st.builds(
        lambda a, d: MarketView(a + d, a, a + d / 2, a + d / 2),
        st.integers(1, 10**7),
        st.integers(0, 100),
    ),
    # a non-finite reference
    st.builds(
        lambda b, x: MarketView(b, b + 5, x, x),
        st.integers(1, 10**7),
        st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    ),
)
"""Books quoting must refuse: an empty side, crossed/locked, a non-finite mid/microprice."""

sane_model_inputs = st.builds(
    ModelInputs,
    sigma=st.floats(min_value=0.0, max_value=1e3),
    a=st.floats(min_value=1e-3, max_value=1e3),
    k=st.floats(min_value=1e-3, max_value=1e2),
)
any_model_inputs = st.builds(
    ModelInputs,
    sigma=st.floats(allow_nan=True, allow_infinity=True),
    a=st.floats(allow_nan=True, allow_infinity=True),
    k=st.floats(allow_nan=True, allow_infinity=True),
)
"""Estimator output as it may arrive: NaN, inf, negative, zero, huge."""


@st.composite
def quote_params(draw: st.DrawFn, model: QuoteModel | None = None) -> QuoteParams:
    """Any valid QuoteParams, across the whole allowed range of every field."""
    min_half = draw(st.floats(min_value=0.0, max_value=1e4))
    return QuoteParams(
        model=draw(st.sampled_from(QuoteModel)) if model is None else model,
        gamma=draw(st.floats(min_value=1e-6, max_value=1e3)),
        base_size_lots=draw(st.integers(min_value=1, max_value=10**6)),
        max_inventory_lots=draw(st.integers(min_value=1, max_value=10**8)),
        horizon_s=draw(st.floats(min_value=0.0, max_value=1e5)),
        levels=draw(st.integers(min_value=1, max_value=6)),
        level_spacing_ticks=draw(st.integers(min_value=1, max_value=100)),
        size_multiplier=draw(st.floats(min_value=0.1, max_value=5.0)),
        inventory_size_reduction=draw(st.floats(min_value=0.0, max_value=1.0)),
        inventory_skew=draw(st.floats(min_value=0.0, max_value=10.0)),
        funding_bias=draw(st.floats(min_value=-1e3, max_value=1e3)),
        min_half_spread_ticks=min_half,
        max_half_spread_ticks=min_half + draw(st.floats(min_value=0.5, max_value=1e6)),
        post_only_safety_ticks=draw(st.integers(min_value=0, max_value=20)),
        allow_bid=draw(st.booleans()),
        allow_ask=draw(st.booleans()),
        use_microprice=draw(st.booleans()),
    )


funding_rates = st.floats(min_value=-0.01, max_value=0.01)
quote_inventories = st.integers(min_value=-(10**9), max_value=10**9)


# --- matching engine (core/matching.py) -----------------------------------------------------

from mmtrio.core.events import TimeInForce  # noqa: E402  (appended section owns its import)

MATCH_MID = 600_000  # 60000.0 on BTCUSDT's 0.10 grid
time_in_forces = st.sampled_from(list(TimeInForce))


@st.composite
def matching_actions(draw: st.DrawFn, n_max: int = 40) -> list[tuple[object, ...]]:
    """A random script for a MatchingEngine around MATCH_MID: our orders and market data.

    Items: ("place", cid, side, price, qty, tif) | ("amend", cid, price, qty) |
    ("cancel", cid) | ("diff", side, price, qty) | ("trade", price, qty, buyer_is_maker).
    """
    prices = st.integers(min_value=MATCH_MID - 6, max_value=MATCH_MID + 6)
    lots = st.integers(min_value=2, max_value=40)
    cids = st.sampled_from([f"c{i}" for i in range(6)])
    action = st.one_of(
        st.tuples(st.just("place"), cids, sides, prices, lots, time_in_forces),
        st.tuples(st.just("amend"), cids, prices, lots),
        st.tuples(st.just("cancel"), cids),
        st.tuples(st.just("diff"), sides, prices, st.integers(min_value=0, max_value=60)),
        st.tuples(st.just("trade"), prices, st.integers(min_value=1, max_value=60), st.booleans()),
    )
    return draw(st.lists(action, max_size=n_max))
