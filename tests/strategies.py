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


# --- quoting (core/quote_params.py, core/models.py) ----------------------------------------

from mmtrio.core.quote_params import (  # noqa: E402  (appended section owns its import)
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


# --- matching engine (exchange/matching.py) -------------------------------------------------

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


# --- orders (core/orders.py) ---------------------------------------------------------------

# Imported here, not at the top, so this section can be appended without touching the header
# that other sections edit concurrently.
from mmtrio.core.events import (  # noqa: E402
    AmendAccepted,
    AmendRejected,
    CancelAccepted,
    CancelRejected,
    ExecType,
    OrderNotFound,
    OrderStatus,
    OrderUpdate,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
    TimeInForce,
)
from mmtrio.core.orders import OrderEvent  # noqa: E402
from mmtrio.core.rejects import RejectKind  # noqa: E402


@st.composite
def order_updates(draw: st.DrawFn, client_id: str, qty: int = 10) -> OrderUpdate:
    """An ORDER_TRADE_UPDATE for ``client_id`` in any status, possibly a (duplicate) fill:
    trade ids come from a small range so duplicates happen."""
    status = draw(st.sampled_from(list(OrderStatus)))
    cum = draw(st.integers(min_value=0, max_value=qty))
    ts = draw(st.integers(min_value=0, max_value=1_000))
    side = Side.BUY
    fill = None
    exec_type = draw(st.sampled_from(list(ExecType)))
    if draw(st.booleans()):
        exec_type = ExecType.TRADE
        fill = Fill(
            "TESTUSDT",
            draw(st.integers(min_value=1, max_value=8)),
            client_id,
            1,
            side,
            1000,
            draw(st.integers(min_value=1, max_value=qty)),
            Decimal(0),
            "USDT",
            True,
            ts,
        )
    return OrderUpdate(
        "TESTUSDT", client_id, 1, side, exec_type, status, 1000,
        draw(st.integers(min_value=1, max_value=2 * qty)), cum, TimeInForce.POST_ONLY, False,
        ts, fill,
    )  # fmt: skip


def order_events(client_id: str) -> st.SearchStrategy[OrderEvent]:
    """Any execution outcome or venue update for one order, in any order, at any time."""
    ts = st.integers(min_value=0, max_value=1_000)
    kind = st.sampled_from(list(RejectKind))
    code = st.sampled_from(["", "-2011", "51008", "Post only order would have crossed"])
    return st.one_of(
        order_updates(client_id),
        st.builds(PlaceAccepted, st.just(client_id), st.integers(1, 5), ts),
        st.builds(PlaceRejected, st.just(client_id), kind, code, st.just("r"), ts),
        st.builds(AmendAccepted, st.just(client_id), st.integers(1, 2000), st.integers(1, 20), ts),
        st.builds(AmendRejected, st.just(client_id), kind, code, st.just("r"), ts),
        st.builds(CancelAccepted, st.just(client_id), ts),
        st.builds(CancelRejected, st.just(client_id), kind, code, st.just("r"), ts),
        st.builds(
            OutcomeUnknown,
            st.just(client_id),
            st.sampled_from(["place", "amend", "cancel"]),
            st.just("timeout"),
            ts,
        ),
        st.builds(OrderNotFound, st.just(client_id), ts),
    )


# --- runtime status snapshots (screen and metrics tests) ------------------------------------
from dataclasses import dataclass as _dataclass  # noqa: E402  (appended section owns its import)

from mmtrio.core.ledger import LedgerSnapshot  # noqa: E402
from mmtrio.core.notices import Notice, QuoteStatus, StrategyStatus  # noqa: E402
from mmtrio.core.orders import OrderState  # noqa: E402
from mmtrio.core.risk import InventoryBand, TradingState  # noqa: E402
from mmtrio.runtime.backoffs import BackoffTally  # noqa: E402
from mmtrio.runtime.supervisor import ChildState, ChildStatus  # noqa: E402


@_dataclass(frozen=True)
class SampleConnection:
    """A ConnectionView (mmtrio.runtime.screen) for tests."""

    name: str
    up: bool
    reconnects: int
    messages: int = 0


@_dataclass(frozen=True)
class SampleRateLimit:
    """A RateLimitView for tests."""

    name: str
    used: int
    limit: int


@_dataclass(frozen=True)
class SampleStatus:
    """A StatusView for tests (the engine's StatusSnapshot has these attributes too)."""

    instrument: Instrument
    strategy: StrategyStatus | None
    connections: tuple[SampleConnection, ...]
    rest_p50_us: int | None
    rest_p99_us: int | None
    rate_limits: tuple[SampleRateLimit, ...]
    children: tuple[ChildStatus, ...]
    backoffs: tuple[BackoffTally, ...] = ()
    max_position_lots: int | None = 20
    stopping: str | None = None


def sample_ledger(**overrides: object) -> LedgerSnapshot:
    """A BTCUSDT ledger snapshot with plausible session numbers; override any field."""
    fields: dict[str, object] = {
        "symbol": "BTCUSDT",
        "position_lots": 4,
        "position_qty": Decimal("0.004"),
        "entry_price": Decimal("60010.0"),
        "mark_price": Decimal("60001.3"),
        "mark_source": "mark",
        "cash": Decimal("0"),
        "realised": Decimal("1.25"),
        "unrealised": Decimal("-0.03"),
        "trading_pnl": Decimal("1.22"),
        "fees": Decimal("0.40"),
        "funding": Decimal("0.01"),
        "equity": Decimal("0.83"),
        "spread_capture": Decimal("2.10"),
        "inventory_pnl": Decimal("-0.88"),
        "reconciliation_pnl": Decimal("0"),
        "fills": 17,
        "volume_lots": 34,
        "maker_volume_lots": 34,
        "duplicate_fills": 0,
        "below_watermark_fills": 0,
        "fills_without_mid": 0,
        "other_asset_fees": (),
    }
    fields.update(overrides)
    return LedgerSnapshot(**fields)  # type: ignore[arg-type]


def consistent_ledger(
    *,
    realised: Decimal,
    unrealised: Decimal,
    fees: Decimal,
    funding: Decimal,
    spread_capture: Decimal,
    reconciliation_pnl: Decimal = Decimal(0),
    **overrides: object,
) -> LedgerSnapshot:
    """:func:`sample_ledger` with these parts and the two figures they imply (equity and
    inventory), so the snapshot adds up as a real ledger's does (fees paid, positive)."""
    trading = realised + unrealised
    return sample_ledger(
        realised=realised,
        unrealised=unrealised,
        trading_pnl=trading - reconciliation_pnl,
        fees=fees,
        funding=funding,
        equity=trading - fees + funding,
        spread_capture=spread_capture,
        inventory_pnl=trading - reconciliation_pnl - spread_capture,
        reconciliation_pnl=reconciliation_pnl,
        **overrides,
    )


def sample_status(**overrides: object) -> SampleStatus:
    """A deterministic, fully populated BTCUSDT status: two quotes, a fill, an alert."""
    now = 1_723_100_000_000
    strategy = StrategyStatus(
        ts=now,
        trading_state=TradingState.ACTIVE,
        reason="quoting both sides",
        band=InventoryBand.NORMAL,
        position_lots=4,
        entry_price=Decimal("60010.0"),
        mid=600_013.0,
        best_bid=600_012,
        best_ask=600_014,
        book_synced=True,
        book_age_ms=12,
        quotes=(
            QuoteStatus(Side.BUY, 0, 600_010, 2, "mm-1-b0", OrderState.OPEN, 1_500, 7),
            QuoteStatus(Side.SELL, 0, 600_017, 2, "mm-1-s0", OrderState.OPEN, 900, None),
        ),
        ledger=sample_ledger(),
        drawdown=Decimal("0.42"),
        max_drawdown=Decimal("50"),
        sigma=0.0004,
        a=1.0,
        k=0.5,
        intensity_source="fit",
        sigma_source="ewma",
        safety_ticks=0,
        quote_to_trade=12.0,
        cannot_quote="",
        last_fills=(
            Notice(
                "fill",
                now - 4_000,
                "BUY 2 lots @ 600010 ticks",
                {"side": "BUY", "price": 600_010, "qty": 2, "maker": True},
            ),
        ),
        alerts=(Notice("alert", now - 60_000, "user stream reconnected", {}),),
    )
    fields: dict[str, object] = {
        "instrument": BTCUSDT,
        "strategy": strategy,
        "connections": (SampleConnection("market", True, 0), SampleConnection("user", True, 1)),
        "rest_p50_us": 480,
        "rest_p99_us": 1_050,
        "rate_limits": (
            SampleRateLimit("weight_1m", 120, 2400),
            SampleRateLimit("orders_10s", 12, 300),
            SampleRateLimit("orders_1m", 90, 1200),
        ),
        "children": (
            ChildStatus("market-feed", ChildState.RUNNING, 0, 0, None, 1.0, None),
            ChildStatus("user-stream", ChildState.RUNNING, 1, 1, "ConnectionFailed: x", 2.0, None),
        ),
        "backoffs": (BackoffTally("venue", 1, 2.0), BackoffTally("rate_budget", 0, 0.0)),
    }
    fields.update(overrides)
    return SampleStatus(**fields)  # type: ignore[arg-type]


@st.composite
def status_views(draw: st.DrawFn) -> SampleStatus:
    """Status snapshots up to the extremes a screen must survive: 10 levels a side, long
    reasons and messages, many children, huge numbers, missing market data."""
    inst = draw(st.sampled_from([BTCUSDT, ETHUSDT]))
    now = 1_723_100_000_000
    # Plain, accented and double-width characters, and rich markup brackets (never parsed).
    text = st.text(alphabet=st.sampled_from(list("ab yz09.:-_/[]é漢字µ✓")), max_size=120)
    # Parts up to 2.5e8 so the two they imply (equity, inventory) stay within 1e9.
    money = st.decimals(min_value=-(10**8) * 25 // 10, max_value=(10**8) * 25 // 10, places=4)
    hi = inst.max_price_ticks
    bid = draw(st.none() | st.integers(inst.min_price_ticks, hi - 1))
    ask = None if bid is None else draw(st.none() | st.integers(bid + 1, hi))
    prices = st.integers(inst.min_price_ticks, hi)
    sizes = st.integers(1, inst.max_qty)
    quotes = tuple(
        draw(
            st.lists(
                st.builds(
                    QuoteStatus,
                    st.sampled_from(list(Side)),
                    st.integers(0, 9),
                    prices,
                    sizes,
                    st.just("c"),
                    st.sampled_from(list(OrderState)),
                    st.integers(0, 10**9),
                    st.none() | st.integers(0, 10**9),
                ),
                max_size=20,
            )
        )
    )

    def notices(kind: str) -> tuple[Notice, ...]:
        data = st.fixed_dictionaries(
            {
                "side": st.sampled_from(["BUY", "SELL"]),
                "price": prices,
                "qty": sizes,
                "maker": st.booleans(),
            }
        )
        ts = st.integers(now - 10**8, now)
        notice = st.builds(Notice, st.just(kind), ts, text, data)
        return tuple(draw(st.lists(notice, max_size=6)))

    strategy = StrategyStatus(
        ts=now,
        trading_state=draw(st.sampled_from(list(TradingState))),
        reason=draw(text),
        band=draw(st.sampled_from(list(InventoryBand))),
        position_lots=draw(st.integers(-inst.max_qty, inst.max_qty)),
        entry_price=draw(st.decimals(min_value=0, max_value=10**6, places=2)),
        mid=None if bid is None or ask is None else (bid + ask) / 2,
        best_bid=bid,
        best_ask=ask,
        book_synced=draw(st.booleans()),
        book_age_ms=draw(st.none() | st.integers(0, 10**9)),
        quotes=quotes,
        ledger=consistent_ledger(
            realised=draw(money),
            unrealised=draw(money),
            fees=draw(money),
            funding=draw(money),
            spread_capture=draw(money),
            reconciliation_pnl=draw(money),
            fills=draw(st.integers(0, 10**9)),
        ),
        drawdown=draw(st.decimals(min_value=0, max_value=10**6, places=2)),
        max_drawdown=draw(st.decimals(min_value="0.01", max_value=10**6, places=2)),
        sigma=0.001,
        a=1.0,
        k=0.5,
        intensity_source="fallback",
        sigma_source="fallback",
        safety_ticks=0,
        quote_to_trade=draw(st.floats(0, 1e9)),
        cannot_quote=draw(st.sampled_from(["", "book out of sync"]) | text),
        last_fills=notices("fill"),
        alerts=notices("alert"),
    )
    names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=30)
    return SampleStatus(
        instrument=inst,
        strategy=strategy,
        connections=tuple(
            SampleConnection(draw(names), draw(st.booleans()), draw(st.integers(0, 10**6)))
            for _ in range(draw(st.integers(0, 4)))
        ),
        rest_p50_us=draw(st.none() | st.integers(0, 10**8)),
        rest_p99_us=draw(st.none() | st.integers(0, 10**8)),
        rate_limits=tuple(
            SampleRateLimit(draw(names), draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6)))
            for _ in range(draw(st.integers(0, 4)))
        ),
        children=tuple(
            ChildStatus(
                draw(names),
                draw(st.sampled_from(list(ChildState))),
                draw(st.integers(0, 10**6)),
                0,
                None,
                None,
                None,
            )
            for _ in range(draw(st.integers(0, 8)))
        ),
    )


# --- strategy (core/strategy.py) -------------------------------------------------------------

from mmtrio.core.strategy_config import StrategyConfig  # noqa: E402  (appended section owns its import)


@st.composite
def strategy_configs(draw: st.DrawFn) -> StrategyConfig:
    """BTCUSDT MarketMaker configs with small position limits (so limits bind often), tight
    spreads (so quotes sit near the touch) and both amend and cancel/replace."""
    half = draw(st.floats(min_value=0.5, max_value=6.0))
    quote = QuoteParams(
        model=draw(st.sampled_from(QuoteModel)),
        gamma=draw(st.floats(min_value=1e-4, max_value=1.0)),
        base_size_lots=draw(st.integers(min_value=2, max_value=6)),
        max_inventory_lots=draw(st.integers(min_value=4, max_value=30)),
        levels=draw(st.integers(min_value=1, max_value=3)),
        level_spacing_ticks=draw(st.integers(min_value=1, max_value=3)),
        inventory_skew=draw(st.floats(min_value=0.0, max_value=2.0)),
        min_half_spread_ticks=half,
        max_half_spread_ticks=half + draw(st.floats(min_value=0.0, max_value=20.0)),
    )
    limits = RiskLimits(
        max_position_lots=draw(st.integers(min_value=2, max_value=20)),
        max_notional=Decimal(1_000_000),
        max_drawdown=Decimal(1_000_000),
        stale_book_ms=draw(st.sampled_from([500, 2_000, 10_000])),
        max_feed_latency_ms=60_000,
        max_orders_per_window=100_000,
    )
    return StrategyConfig(
        instrument=BTCUSDT,
        quote=quote,
        limits=limits,
        vol_half_life_ms=5_000,
        vol_min_returns=draw(st.integers(min_value=1, max_value=20)),
        sigma_fallback_ticks=draw(st.floats(min_value=0.0, max_value=20.0)),
        intensity_window_ms=30_000,
        intensity_min_trades=10,
        fallback_a=draw(st.floats(min_value=0.1, max_value=10.0)),
        fallback_k=draw(st.floats(min_value=0.05, max_value=2.0)),
        reprice_tolerance_ticks=draw(st.integers(min_value=0, max_value=3)),
        size_tolerance_lots=draw(st.integers(min_value=0, max_value=2)),
        use_amend=draw(st.booleans()),
        min_requote_interval_ms=draw(st.sampled_from([0, 50, 200])),
        cancel_deadline_ms=draw(st.sampled_from([100, 1_000])),
        query_delay_ms=draw(st.sampled_from([200, 2_000])),
        post_only_base_ticks=0,
        post_only_max_ticks=8,
        post_only_decay_after=3,
        markout_horizons_ms=(1_000,),
        flatten_slippage_bps=draw(st.floats(min_value=0.5, max_value=50.0)),
        mid_sample_ms=1_000,
    )
