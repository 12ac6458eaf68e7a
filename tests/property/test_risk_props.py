"""Properties of the risk layer and the rate-limit budget under arbitrary sequences."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from mmtrio.core.events import Side
from mmtrio.core.guards import DrawdownTracker, GuardVerdict, OrderFlowTracker, TradingState
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.ratelimit import MINUTE_MS, RateBudget, RateLimits, RateWindow, RequestCost
from mmtrio.core.risk import InventoryBand, RiskLimits, band_for, check_order
from mmtrio.venues.binance.costs import (
    ORDERS_1M,
    ORDERS_10S,
    TEN_SECONDS_MS,
    WEIGHT,
    usage_from_headers,
)
from tests.strategies import rate_ops, risk_actions, risk_limits, sides

ACTIVE = GuardVerdict(TradingState.ACTIVE, "ok")
PX = 300_000  # 30 000.0 USDT


@given(lim=risk_limits(), actions=risk_actions)
def test_worst_case_position_and_notional_never_exceed_limits(
    lim: RiskLimits, actions: list[tuple[object, ...]]
) -> None:
    """Whatever is placed, filled (partly) or cancelled, counting only orders the check
    allowed, neither the position nor any side's worst case ever exceeds the limits."""
    position = 0
    open_orders: list[tuple[Side, int]] = []
    lot_value = BTCUSDT.lot_size * BTCUSDT.ticks_to_price(PX)
    for action in actions:
        if action[0] == "place":
            side, qty = action[1], action[2]
            assert isinstance(side, Side) and isinstance(qty, int)
            exposure = (
                sum(q for s, q in open_orders if s is Side.BUY),
                sum(q for s, q in open_orders if s is Side.SELL),
            )
            d = check_order(
                lim,
                BTCUSDT,
                ACTIVE,
                side=side,
                price_ticks=PX,
                qty_lots=qty,
                reduce_only=False,
                position_lots=position,
                exposure=exposure,
                mark_price=None,
            )
            if d.allowed:
                open_orders.append((side, qty))
        elif open_orders:
            i = int(str(action[1])) % len(open_orders)
            side, remaining = open_orders[i]
            if action[0] == "fill":
                q = min(int(str(action[2])), remaining)
                position += side.sign * q
                remaining -= q
            else:
                remaining = 0
            if remaining:
                open_orders[i] = (side, remaining)
            else:
                del open_orders[i]
        worst_long = position + sum(q for s, q in open_orders if s is Side.BUY)
        worst_short = position - sum(q for s, q in open_orders if s is Side.SELL)
        for worst in (worst_long, worst_short, position):
            assert abs(worst) <= lim.max_position_lots
            assert abs(worst) * lot_value <= lim.max_notional


@given(
    side=sides,
    qty=st.integers(min_value=1, max_value=500),
    pos=st.integers(min_value=-500, max_value=500),
    state=st.sampled_from(list(TradingState)),
)
def test_allowed_reduce_only_orders_always_reduce(
    side: Side, qty: int, pos: int, state: TradingState
) -> None:
    lim = RiskLimits(
        max_position_lots=100,
        max_notional=Decimal(1000),
        max_drawdown=Decimal(1),
        stale_book_ms=1,
        max_feed_latency_ms=1,
        max_orders_per_window=1,
    )
    d = check_order(
        lim,
        BTCUSDT,
        GuardVerdict(state, "x"),
        side=side,
        price_ticks=PX,
        qty_lots=qty,
        reduce_only=True,
        position_lots=pos,
        exposure=(0, 0),
        mark_price=None,
    )
    after = pos + side.sign * qty
    assert d.allowed == (abs(after) < abs(pos) and after * pos >= 0)


@given(lim=risk_limits(), a=st.integers(-1000, 1000), b=st.integers(-1000, 1000))
def test_bands_are_monotonic_in_abs_position(lim: RiskLimits, a: int, b: int) -> None:
    order = list(InventoryBand)
    if abs(a) <= abs(b):
        assert order.index(band_for(a, lim)) <= order.index(band_for(b, lim))
    assert band_for(a, lim) is band_for(-a, lim)


@given(
    limit=st.integers(min_value=1, max_value=100),
    equities=st.lists(st.integers(min_value=-500, max_value=500), min_size=1, max_size=50),
)
def test_drawdown_is_from_running_peak_and_latches(limit: int, equities: list[int]) -> None:
    dd = DrawdownTracker(Decimal(limit))
    for i, e in enumerate(equities):
        dd.update(Decimal(e), i)
        prefix = equities[: i + 1]
        assert dd.peak == max(prefix)
        assert dd.drawdown == max(prefix) - e
        running = [max(prefix[: j + 1]) - prefix[j] for j in range(len(prefix))]
        assert dd.breached == any(x > limit for x in running)


@given(
    ops=rate_ops,
    start=st.integers(min_value=1_600_000_000_000, max_value=1_700_000_000_000),
    margin=st.sampled_from([0.5, 0.8, 1.0]),
)
def test_no_acquire_sequence_exceeds_a_limit_within_a_window(
    ops: list[tuple[object, ...]], start: int, margin: float
) -> None:
    """Grants per clock-aligned window stay within each hard limit; non-essential grants
    stay within the margin; nothing is granted while a Retry-After block runs."""
    limits = RateLimits(
        (
            RateWindow(WEIGHT, MINUTE_MS, 300),
            RateWindow(ORDERS_10S, TEN_SECONDS_MS, 40),
            RateWindow(ORDERS_1M, MINUTE_MS, 150),
        ),
        orders_per_minute=150,
    )
    budget = RateBudget(limits, margin=margin)
    soft = {k: int(v * margin) for k, v in (("w", 300), ("o10", 40), ("o1m", 150))}
    granted: dict[tuple[str, int], int] = {}  # ours only (headers may add venue usage)
    venue: dict[tuple[str, int], int] = {}  # max header seen per window
    blocked_until = 0
    now = start
    for op in ops:
        now += int(str(op[1]))
        keys = {
            "w": ("w", now // MINUTE_MS),
            "o10": ("o10", now // TEN_SECONDS_MS),
            "o1m": ("o1m", now // MINUTE_MS),
        }
        if op[0] == "headers":
            budget.update_from_usage(usage_from_headers(op[2], op[3], op[4]), now)  # type: ignore[arg-type]
            for name, val in zip(("w", "o10", "o1m"), op[2:], strict=True):
                if val is not None:
                    venue[keys[name]] = max(venue.get(keys[name], 0), int(str(val)))
            continue
        if op[0] == "retry_after":
            seconds = int(str(op[2]))
            budget.on_retry_after(seconds, now)
            blocked_until = max(blocked_until, now + seconds * 1000)
            continue
        weight, is_order, essential = int(str(op[2])), bool(op[3]), bool(op[4])
        if not essential and weight > soft["w"]:
            continue  # can never be sent: raises, covered by unit tests
        n = int(is_order)
        cost = RequestCost(((WEIGHT, weight), (ORDERS_10S, n), (ORDERS_1M, n)), essential=essential)
        if budget.try_acquire(cost, now):
            assert now >= blocked_until
            need = {"w": weight, "o10": int(is_order), "o1m": int(is_order)}
            for name, n in need.items():
                # The budget's view of a window is max(ours, venue's) plus later grants; a
                # grant must fit under the limit on top of what the budget knew.
                known = max(granted.get(keys[name], 0), venue.get(keys[name], 0))
                ceiling = {"w": 300, "o10": 40, "o1m": 150}[name] if essential else soft[name]
                if n:
                    assert known + n <= ceiling
                granted[keys[name]] = known + n
        for name, limit in (("w", 300), ("o10", 40), ("o1m", 150)):
            assert granted.get(keys[name], 0) <= limit


@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["order", "fill", "ask"]),
            st.integers(min_value=0, max_value=40_000),  # ms into the run, in any order
        ),
        max_size=200,
    ),
)
def test_order_flow_counts_kept_as_they_come_equal_a_fresh_sum(
    ops: list[tuple[str, int]],
) -> None:
    """The order-flow window's counts, kept up to date as orders and fills arrive (at any
    time, out of order and far back included), equal the counts summed afresh over its
    buckets, whenever they are asked."""
    kept = OrderFlowTracker(10_000, buckets=10)
    fresh = OrderFlowTracker(10_000, buckets=10)
    start = 1_700_000_000_000
    for op, at in ops:
        now = start + at
        if op == "ask":
            fresh._memo = None  # the reference sums every time
            assert (kept.orders(now), kept.fills(now)) == (fresh.orders(now), fresh.fills(now))
            continue
        for flow in (kept, fresh):
            if op == "order":
                flow.on_order(now)
            else:
                flow.on_fill(now)
